/**
 * Checkpoint I/O: the {@link org.fwmerge.io.Checkpoint} abstraction, safetensors files (single and
 * sharded, F32/F64/F16/BF16), LoRA adapters, atomic writing, and the typed
 * {@link org.fwmerge.io.CheckpointException}s that bad files produce.
 */
package org.fwmerge.io;
