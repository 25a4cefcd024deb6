/**
 * fwmerge-core: Frank-Wolfe merging (FW-Merging, Chen et al., ICCV 2025), the classic merging baselines,
 * checkpoint I/O (safetensors, sharded, LoRA adapters), the tensor SPI with its pure-Java reference
 * backend, and the test kit for user plug-ins. No native code.
 *
 * <p>The API is the exported packages; {@code org.fwmerge.internal} holds the engine's kernels and is
 * open only to fwmerge's own ND4J backend and example programs, which build on them.
 *
 * @uses org.fwmerge.tensor.TensorBackend tensor backends found with {@link java.util.ServiceLoader}
 */
module org.fwmerge.core {
    requires org.slf4j;
    requires commons.math3;

    exports org.fwmerge;
    exports org.fwmerge.baseline;
    exports org.fwmerge.io;
    exports org.fwmerge.tensor;
    exports org.fwmerge.testing;
    exports org.fwmerge.internal to org.fwmerge.nd4j, org.fwmerge.examples;

    uses org.fwmerge.tensor.TensorBackend;
}
