/**
 * fwmerge-nd4j: the ND4J tensor backend (nd4j-native on CPU, nd4j-cuda on GPU) and objectives whose loss
 * and gradients come from SameDiff graphs. Its API speaks ND4J's types ({@code INDArray},
 * {@code SameDiff}), so it reads ND4J transitively.
 *
 * <p>On the module path ND4J 1.0.0-M2.1 itself does not resolve (its jars' descriptors name packages
 * they lack and share packages), so applications put fwmerge-nd4j and ND4J on the class path; this
 * descriptor states the module's boundary for the day ND4J does.
 *
 * @provides org.fwmerge.tensor.TensorBackend the ND4J backend, named {@code nd4j}
 */
module org.fwmerge.nd4j {
    requires transitive org.fwmerge.core;
    requires transitive nd4j.api;
    requires nd4j.common;
    requires org.bytedeco.javacpp;
    requires org.bytedeco.openblas;
    requires org.slf4j;
    requires jdk.management;

    exports org.fwmerge.nd4j;

    provides org.fwmerge.tensor.TensorBackend with org.fwmerge.nd4j.Nd4jBackend;
}
