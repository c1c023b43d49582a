import type { Request, RequestHandler } from 'express';
import multer from 'multer';
import { AppError } from '../errors.js';
import type { DeployResource } from '../engine/workflow-engine.js';

/**
 * Reads multipart/form-data deployments into memory (requests of other types pass by).
 * Every file part is a resource, as Camunda 7's deployment/create takes them; each file is
 * held to the BPMN size limit and text fields stay small.
 */
export function bpmnUpload(limits: { bpmnBytes: number }): RequestHandler {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limits.bpmnBytes, files: 10, fields: 20, fieldSize: 4096, parts: 30, headerPairs: 100 },
  }).any();
  // One cap for the whole body, not only per part: ten 4.9 MB parts made a 51 MB deploy.
  const totalBytes = limits.bpmnBytes + 64 * 1024;
  const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', `the multipart body is larger than ${totalBytes} bytes (all parts together)`);
  return (req, res, next) => {
    if (!isMultipart(req)) return next();
    if (Number(req.headers['content-length'] ?? 0) > totalBytes) {
      // Read nothing more: answer and close, the client may still be sending.
      res.setHeader('Connection', 'close');
      return next(tooLarge());
    }
    let received = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > totalBytes && !refused) {
        refused = true;
        req.unpipe();
        res.setHeader('Connection', 'close');
        next(tooLarge());
      }
    });
    upload(req, res, (error: unknown) => {
      if (refused) return;
      if (!error) return next();
      if (error instanceof multer.MulterError) {
        const tooLarge = ['LIMIT_FILE_SIZE', 'LIMIT_FIELD_VALUE', 'LIMIT_PART_COUNT', 'LIMIT_FILE_COUNT', 'LIMIT_FIELD_COUNT'].includes(error.code);
        const message = error.code === 'LIMIT_FILE_SIZE' ? `a file part is larger than ${limits.bpmnBytes} bytes` : `multipart upload refused: ${error.message}`;
        return next(new AppError(tooLarge ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_FAILED', message));
      }
      next(new AppError('VALIDATION_FAILED', `the multipart body cannot be read: ${(error as Error).message ?? String(error)}`));
    });
  };
}

/** The file parts of a multipart request as deploy resources. */
export function uploadedResources(req: Request): DeployResource[] {
  const files = Array.isArray(req.files) ? req.files : [];
  return files.map((file) => {
    const xml = file.buffer.toString('utf8');
    if (!xml.trim()) throw new AppError('VALIDATION_FAILED', `the file part '${file.fieldname}' is empty`);
    // Only the base name is kept: a resource name is a label, never a path.
    const name = (file.originalname || file.fieldname).split(/[\\/]/).pop()!.slice(0, 200) || 'diagram.bpmn';
    return { name, xml };
  });
}

export function isMultipart(req: Request): boolean {
  return Boolean(req.is('multipart/form-data'));
}
