/**
 * fwmerge-examples: the {@code fwmerge} command-line tool (inspect, merge, demo, bench), the end-to-end
 * demo on real data, and the examples of extending fwmerge. An application: it runs from
 * {@code fwmerge.jar} on the class path, as ND4J needs.
 *
 * <p>It exports the extension examples and the command line's {@link org.fwmerge.examples.cli.ObjectiveProvider}
 * (what a {@code merge} configuration's {@code objective: {class: …}} implements), and opens its commands to
 * picocli, which sets their options by reflection.
 */
module org.fwmerge.examples {
    requires org.fwmerge.nd4j;
    requires org.fwmerge.onnx;
    requires info.picocli;
    requires org.yaml.snakeyaml;
    requires org.knowm.xchart;
    requires org.slf4j;
    requires java.management;

    exports org.fwmerge.examples.cli;
    exports org.fwmerge.examples.extend;

    opens org.fwmerge.examples.cli to info.picocli;
    opens org.fwmerge.examples.demo to info.picocli;
    opens org.fwmerge.examples.bench to info.picocli;
}
