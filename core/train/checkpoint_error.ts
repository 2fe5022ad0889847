/**
 * CheckpointError: an EdgeflowError about a checkpoint file. It names the file and, where one is
 * involved, the tensor, so a corrupt or mismatched checkpoint reads
 * "checkpoint 'run/ckpt-30.safetensors', tensor 'dense/kernel': ...".
 */
import { EdgeflowError } from "../errors.ts";

export class CheckpointError extends EdgeflowError {
  constructor(
    readonly file: string,
    readonly tensor: string | undefined,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `checkpoint '${file}'${tensor === undefined ? "" : `, tensor '${tensor}'`}: ${reason}`,
      {},
      options,
    );
    this.name = "CheckpointError";
  }
}
