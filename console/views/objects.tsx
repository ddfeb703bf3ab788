// A bucket's objects as folders (ListObjectsV2 with delimiter '/'): browse,
// search by prefix, upload (drag and drop or a file input), new folder, and
// per object download, share link, details (metadata, tags, versions),
// copy/move and delete; a folder deletes recursively.
import { useEffect, useRef, useState } from 'preact/hooks';
import { allKeys, deleteKeys, listObjects, s3, type Listing, type ObjectEntry } from '../api.ts';
import { bytes, errorText, when } from '../format.ts';
import { href } from '../route.ts';
import type { Session } from '../session.ts';
import { Confirm, Dialog, ErrorNote, Table } from '../ui.tsx';
import { discardUpload, uploadFile } from '../upload.ts';
import { CopyMoveDialog, DetailsDialog, downloadObject, ShareDialog } from './object-dialogs.tsx';

interface Upload {
  id: number;
  name: string;
  key: string;
  loaded: number;
  total: number;
  state: 'uploading' | 'done' | 'failed' | 'cancelled';
  error?: string;
  abort: AbortController;
  file: File;
}

let uploadIds = 0;

function baseName(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function Breadcrumb({ bucket, prefix }: { bucket: string; prefix: string }) {
  const parts = prefix.split('/').filter(Boolean);
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <a href="#/buckets">Buckets</a> / <a href={href({ view: 'objects', bucket, prefix: '' })}>{bucket}</a>
      {parts.map((p, i) => (
        <span key={i}>
          {' / '}
          <a href={href({ view: 'objects', bucket, prefix: parts.slice(0, i + 1).join('/') + '/' })}>{p}</a>
        </span>
      ))}
    </nav>
  );
}

export function Objects({ session, bucket, prefix }: { session: Session; bucket: string; prefix: string }) {
  const [search, setSearch] = useState('');
  const [listing, setListing] = useState<Listing>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [dialog, setDialog] = useState<{ kind: 'share' | 'details' | 'copy' | 'delete'; key: string } | { kind: 'folder' }>();
  const fileInput = useRef<HTMLInputElement>(null);
  const reload = () => setTick((t) => t + 1);
  // A search is within one folder: another folder starts without it.
  useEffect(() => setSearch(''), [bucket, prefix]);

  useEffect(() => {
    let live = true;
    setError(undefined);
    listObjects(session, bucket, prefix + search, { delimiter: '/' }).then(
      (l) => live && setListing(l),
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [session, bucket, prefix, search, tick]);

  async function more() {
    if (!listing?.next) return;
    const page = await listObjects(session, bucket, prefix + search, { delimiter: '/', token: listing.next });
    setListing({ prefixes: [...listing.prefixes, ...page.prefixes], objects: [...listing.objects, ...page.objects], next: page.next });
  }

  function update(id: number, change: Partial<Upload>) {
    setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...change } : u)));
  }

  async function upload(files: FileList | File[]) {
    for (const file of Array.from(files)) {
      const id = ++uploadIds;
      const key = prefix + file.name;
      const abort = new AbortController();
      setUploads((list) => [...list, { id, name: file.name, key, loaded: 0, total: file.size, state: 'uploading', abort, file }]);
      try {
        await uploadFile(session, bucket, key, file, (loaded, total) => update(id, { loaded, total }), abort.signal);
        update(id, { state: 'done', loaded: file.size });
        reload();
      } catch (err) {
        update(id, abort.signal.aborted ? { state: 'cancelled' } : { state: 'failed', error: errorText(err) });
      }
    }
  }

  async function download(key: string) {
    try {
      await downloadObject(session, bucket, key);
    } catch (err) {
      setError(err);
    }
  }

  const objects = (listing?.objects ?? []).filter((o) => o.key !== prefix);
  return (
    <section
      aria-labelledby="objects-title"
      class={dragging ? 'dropzone dragging' : 'dropzone'}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        if (e.dataTransfer?.files.length) void upload(e.dataTransfer.files);
      }}
    >
      <Breadcrumb bucket={bucket} prefix={prefix} />
      <h1 id="objects-title">{prefix ? baseName(prefix) : bucket}</h1>
      <div class="toolbar">
        <label class="search">
          Search by prefix
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="names starting with…" />
        </label>
        <div class="actions">
          <input ref={fileInput} id="upload-input" class="visually-hidden" type="file" multiple tabIndex={-1} aria-label="Files to upload" onChange={(e) => {
              const files = Array.from(e.currentTarget.files ?? []);
              // Cleared, so that choosing the same file again (to resume it) is a change too.
              e.currentTarget.value = '';
              void upload(files);
            }}
          />
          <button type="button" class="primary" onClick={() => fileInput.current?.click()}>
            Upload files
          </button>
          <button type="button" onClick={() => setDialog({ kind: 'folder' })}>
            New folder
          </button>
          <a class="button" href={href({ view: 'settings', bucket })}>
            Bucket settings
          </a>
        </div>
      </div>
      <p class="hint">Drop files anywhere here to upload them into this folder. Files of 8 MiB or more go in parts and resume after a dropped connection.</p>
      {uploads.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.id}>
              <span class="name">{u.name}</span>
              <progress max={u.total || 1} value={u.loaded} aria-label={`Upload of ${u.name}`} />
              <span class="state">
                {u.state === 'uploading' ? `${bytes(u.loaded)} of ${bytes(u.total)}` : u.state === 'failed' ? `failed: ${u.error}` : u.state}
              </span>
              {u.state === 'uploading' ? (
                <button type="button" onClick={() => u.abort.abort()}>
                  Cancel
                </button>
              ) : u.state === 'failed' || u.state === 'cancelled' ? (
                <button
                  type="button"
                  title="Abort the upload on the server; choose the file again instead to resume it"
                  onClick={async () => {
                    try {
                      await discardUpload(session, bucket, u.key, u.file);
                      setUploads((l) => l.filter((x) => x.id !== u.id));
                    } catch (err) {
                      update(u.id, { error: errorText(err) });
                    }
                  }}
                >
                  Discard
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <ErrorNote error={error} />
      <Table columns={['Name', { label: 'Size', num: true }, 'Last modified']}>
        {prefix && (
          <tr>
            <td colSpan={4}>
              <a href={href({ view: 'objects', bucket, prefix: prefix.split('/').slice(0, -2).join('/') + (prefix.split('/').length > 2 ? '/' : '') })}>↑ Up</a>
            </td>
          </tr>
        )}
        {listing?.prefixes.map((p) => (
          <tr key={p} class="folder">
            <td data-label="Name">
              <a href={href({ view: 'objects', bucket, prefix: p })}>📁 {baseName(p)}/</a>
            </td>
            <td class="num">—</td>
            <td>—</td>
            <td class="row-actions">
              <button type="button" class="danger" onClick={() => setDialog({ kind: 'delete', key: p })}>
                Delete folder
              </button>
            </td>
          </tr>
        ))}
        {objects.map((o: ObjectEntry) => (
          <tr key={o.key}>
            <td data-label="Name">{baseName(o.key)}</td>
            <td data-label="Size" class="num">
              {bytes(o.size)}
            </td>
            <td data-label="Last modified">{when(o.lastModified)}</td>
            <td class="row-actions">
              <button type="button" onClick={() => void download(o.key)} aria-label={`Download ${baseName(o.key)}`}>
                Download
              </button>
              <button type="button" onClick={() => setDialog({ kind: 'share', key: o.key })} aria-label={`Share ${baseName(o.key)}`}>
                Share
              </button>
              <button type="button" onClick={() => setDialog({ kind: 'details', key: o.key })} aria-label={`Details of ${baseName(o.key)}`}>
                Details
              </button>
              <button type="button" onClick={() => setDialog({ kind: 'copy', key: o.key })} aria-label={`Copy or move ${baseName(o.key)}`}>
                Copy/move
              </button>
              <button type="button" class="danger" onClick={() => setDialog({ kind: 'delete', key: o.key })} aria-label={`Delete ${baseName(o.key)}`}>
                Delete
              </button>
            </td>
          </tr>
        ))}
        {listing && listing.prefixes.length === 0 && objects.length === 0 && (
          <tr>
            <td colSpan={4}>{search ? 'Nothing matches this prefix.' : 'This folder is empty.'}</td>
          </tr>
        )}
      </Table>
      {listing?.next && (
        <button type="button" onClick={() => void more().catch(setError)}>
          Load more
        </button>
      )}
      {dialog?.kind === 'folder' && <NewFolder session={session} bucket={bucket} prefix={prefix} onClose={() => setDialog(undefined)} onCreated={reload} />}
      {dialog?.kind === 'share' && <ShareDialog session={session} bucket={bucket} objectKey={dialog.key} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'details' && <DetailsDialog session={session} bucket={bucket} objectKey={dialog.key} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === 'copy' && <CopyMoveDialog session={session} bucket={bucket} objectKey={dialog.key} onClose={() => setDialog(undefined)} onDone={reload} />}
      {dialog?.kind === 'delete' && (
        <DeleteDialog session={session} bucket={bucket} objectKey={dialog.key} onClose={() => setDialog(undefined)} onDone={reload} />
      )}
    </section>
  );
}

function DeleteDialog(props: { session: Session; bucket: string; objectKey: string; onClose: () => void; onDone: () => void }) {
  const folder = props.objectKey.endsWith('/');
  const [keys, setKeys] = useState<string[]>();
  useEffect(() => {
    if (folder) void allKeys(props.session, props.bucket, props.objectKey).then(setKeys, () => setKeys([]));
  }, [folder, props.objectKey]);
  const message = folder
    ? keys === undefined
      ? `Counting the objects under ${props.objectKey}…`
      : `Delete the folder ${props.objectKey} and the ${keys.length} object(s) in it? This cannot be undone.`
    : `Delete ${props.objectKey}? This cannot be undone.`;
  return (
    <Confirm
      title={folder ? 'Delete folder' : 'Delete object'}
      message={message}
      action="Delete"
      onClose={props.onClose}
      onConfirm={async () => {
        if (folder) {
          const failed = await deleteKeys(props.session, props.bucket, keys ?? (await allKeys(props.session, props.bucket, props.objectKey)));
          if (failed.length) throw new Error(`Some objects were not deleted: ${failed.slice(0, 5).join('; ')}`);
        } else {
          await s3(props.session, { method: 'DELETE', bucket: props.bucket, key: props.objectKey });
        }
        props.onDone();
      }}
    />
  );
}

function NewFolder(props: { session: Session; bucket: string; prefix: string; onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  return (
    <Dialog title="New folder" onClose={props.onClose}>
      <form
        class="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            // S3 has no folders: an empty object whose key ends in '/' stands for one, as other consoles do.
            await s3(props.session, { method: 'PUT', bucket: props.bucket, key: props.prefix + name.replace(/^\/+|\/+$/g, '') + '/', body: '' });
            props.onCreated();
            props.onClose();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label>
          Folder name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <ErrorNote error={error} />
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Create folder
          </button>
        </div>
      </form>
    </Dialog>
  );
}
