/**
 * fwmerge-onnx: FW-Merging on real architectures. {@link org.fwmerge.onnx.OnnxObjective} runs a
 * loss-and-gradient graph exported from a Hugging Face model by {@code tools/export-gradients} with ONNX
 * Runtime, feeding the merged point's weights by their checkpoint names. Its API has no ONNX Runtime
 * type in it and works with every tensor backend.
 */
module org.fwmerge.onnx {
    requires transitive org.fwmerge.core;
    requires com.microsoft.onnxruntime;

    exports org.fwmerge.onnx;
}
