// Headers for responses that carry an object's bytes, on both APIs. Those
// bytes are the users' own, served from the API's origin — the origin whose
// credentials, cookies and web console (docs/console.md) a script there
// could use. So a browser must never sniff them into something executable,
// and what it does render as a page runs sandboxed: an opaque origin, no
// scripts, no plugins, nothing loaded from elsewhere. Public content meant to
// be browsed as a site belongs on its own domain (docs/security.md "Serving
// public content").
//
// The one exception is PDF: Chromium refuses to show a PDF whose response
// sandboxes it, and a PDF's own scripts run inside the viewer, never with
// the origin's rights; nosniff still holds it to being a PDF.
const SANDBOX = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

export function contentSafetyHeaders(contentType: string | undefined): Record<string, string> {
  const essence = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return {
    'x-content-type-options': 'nosniff',
    ...(essence === 'application/pdf' ? {} : { 'content-security-policy': SANDBOX }),
  };
}
