import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Throws 401 unless `authorization` is `Bearer <one of keys>`; does nothing when no key is
 * configured. Keys are compared by digest in constant time, so timing reveals nothing.
 */
export function checkApiKey(keys: string[], authorization: string | undefined): void {
  if (keys.length === 0) return;
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
  if (!match) {
    throw new HttpError(
      401,
      'unauthorized',
      'this collector requires an API key: send the header "Authorization: Bearer <api key>"',
    );
  }
  const given = digest(match[1]!.trim());
  if (!keys.some((key) => timingSafeEqual(digest(key), given))) {
    throw new HttpError(401, 'unauthorized', 'the API key is not valid for this collector');
  }
}
