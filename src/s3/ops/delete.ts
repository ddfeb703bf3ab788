// DeleteObject.
import { deleteObject } from '../../core/objects.ts';
import { bucketOf, keyOf, type S3Operation } from '../context.ts';

export const deleteObjectOp: S3Operation = async (ctx) => {
  await deleteObject(ctx.storage, bucketOf(ctx), keyOf(ctx), ctx.principal);
  return { status: 204 };
};
