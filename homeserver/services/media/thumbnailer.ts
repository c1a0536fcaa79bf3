import sharp from 'sharp';

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailSize {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

export interface Thumbnail {
  data: Buffer;
  contentType: 'image/png' | 'image/jpeg' | 'image/webp';
  width: number;
  height: number;
}

/** Why no thumbnail could be made: the source is not an image we decode, or it is too large. */
export class ThumbnailError extends Error {
  constructor(
    readonly reason: 'unsupported' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

/** Largest side of a dynamic thumbnail: requests beyond it get this size (the spec allows larger, never smaller unless impossible). */
export const MAX_DYNAMIC_SIDE = 1600;

/**
 * Content types thumbnails are made of (Synapse's set plus AVIF). SVG is deliberately absent: it is
 * a document that can reference other resources, not a bitmap.
 */
const THUMBNAILABLE = new Set([
  'image/jpeg',
  'image/jpg',
  'image/pjpeg',
  'image/png',
  'image/apng',
  'image/gif',
  'image/webp',
  'image/avif',
]);
/** What the decoder must actually find (a PNG uploaded as image/jpeg is fine; a PDF uploaded as image/png is not). */
const DECODABLE_FORMATS = new Set(['jpeg', 'png', 'gif', 'webp', 'heif']);
/** Formats whose frames we can carry over into an animated WebP thumbnail. */
const ANIMATABLE = new Set(['image/gif', 'image/webp']);

/** The media type without parameters, lower case: `Image/PNG; x=y` → `image/png`. */
export function baseContentType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

export function isThumbnailable(contentType: string): boolean {
  return THUMBNAILABLE.has(baseContentType(contentType));
}

export function mayAnimate(contentType: string): boolean {
  return ANIMATABLE.has(baseContentType(contentType));
}

/**
 * The configured size a request is served from: the smallest of the same method that is at least
 * as large as requested, else the largest of that method; sizes of the other method only when the
 * configuration has none of the requested one. Dynamic mode serves the requested size, clamped.
 */
export function selectThumbnailSize(
  sizes: readonly ThumbnailSize[],
  dynamic: boolean,
  width: number,
  height: number,
  method: ThumbnailMethod,
): ThumbnailSize {
  if (dynamic || sizes.length === 0) {
    return { width: Math.min(width, MAX_DYNAMIC_SIDE), height: Math.min(height, MAX_DYNAMIC_SIDE), method };
  }
  const sameMethod = sizes.filter((s) => s.method === method);
  const pool = sameMethod.length > 0 ? sameMethod : sizes;
  const byArea = [...pool].sort((a, b) => a.width * a.height - b.width * b.height);
  return byArea.find((s) => s.width >= width && s.height >= height) ?? byArea[byArea.length - 1]!;
}

/**
 * Output dimensions of a thumbnail of a `srcW`x`srcH` image, never upscaling.
 * - scale: fits inside the box keeping the aspect ratio.
 * - crop: exactly the box's aspect ratio, at most the box; from a smaller image, the largest
 *   centred region of that aspect ratio.
 */
export function thumbnailDimensions(srcW: number, srcH: number, size: ThumbnailSize): { width: number; height: number } {
  if (size.method === 'scale') {
    const s = Math.min(1, size.width / srcW, size.height / srcH);
    return { width: Math.max(1, Math.round(srcW * s)), height: Math.max(1, Math.round(srcH * s)) };
  }
  const ratio = size.width / size.height;
  // The largest region of the requested aspect ratio inside the source.
  const regionW = Math.min(srcW, srcH * ratio);
  const regionH = regionW / ratio;
  const s = Math.min(1, size.width / regionW);
  return { width: Math.max(1, Math.round(regionW * s)), height: Math.max(1, Math.round(regionH * s)) };
}

export interface ThumbnailOptions {
  size: ThumbnailSize;
  /** The uploaded content type (decides JPEG vs PNG output and whether animation is possible). */
  contentType: string;
  /** Whether an animated thumbnail was asked for (`animated=true`). */
  animated: boolean;
  /** Decompression-bomb guard: width x height (of all frames) the decoder accepts. */
  maxPixels: number;
}

/**
 * Makes a thumbnail with sharp (libvips). JPEG sources give JPEG thumbnails, animated GIF/WebP give
 * an animated WebP when asked for, everything else PNG: all types the spec allows inline.
 */
export async function generateThumbnail(input: Buffer, opts: ThumbnailOptions): Promise<Thumbnail> {
  const wantAnimation = opts.animated && mayAnimate(opts.contentType);
  try {
    const source = sharp(input, { limitInputPixels: opts.maxPixels, animated: wantAnimation, failOn: 'error' });
    const meta = await source.metadata();
    if (!DECODABLE_FORMATS.has(meta.format) || (meta.format === 'heif' && meta.compression !== 'av1')) {
      throw new ThumbnailError('unsupported', `Cannot generate thumbnails for ${meta.format} content`);
    }
    const frames = wantAnimation ? (meta.pages ?? 1) : 1;
    const animated = frames > 1;
    const frameH = animated ? (meta.pageHeight ?? meta.height) : meta.autoOrient.height;
    const frameW = animated ? meta.width : meta.autoOrient.width;
    const { width, height } = thumbnailDimensions(frameW, frameH, opts.size);
    let pipeline = source.autoOrient().resize(width, height, { fit: opts.size.method === 'crop' ? 'cover' : 'fill' });
    let contentType: Thumbnail['contentType'];
    if (animated) {
      pipeline = pipeline.webp({ quality: 80, effort: 4 });
      contentType = 'image/webp';
    } else if (meta.format === 'jpeg') {
      pipeline = pipeline.jpeg({ quality: 80, mozjpeg: true });
      contentType = 'image/jpeg';
    } else {
      pipeline = pipeline.png({ compressionLevel: 6 });
      contentType = 'image/png';
    }
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { data, contentType, width: info.width, height: animated ? (info.pageHeight ?? info.height) : info.height };
  } catch (err) {
    if (err instanceof ThumbnailError) throw err;
    const message = (err as Error).message ?? '';
    if (/pixel limit/i.test(message)) throw new ThumbnailError('too_large', 'Content is too large to thumbnail');
    throw new ThumbnailError('unsupported', 'Cannot generate thumbnails for the requested content');
  }
}
