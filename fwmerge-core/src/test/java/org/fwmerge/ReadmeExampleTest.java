package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.tensor.TensorBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first example as the README has it: the code is taken from README.md, compiled into a
 * program whose only addition is the {@code objective} the example assumes, and run in a JVM of its
 * own whose working directory holds the files the example names (base, two single files, a sharded
 * directory), so its relative paths mean what they say.
 */
class ReadmeExampleTest {

    private static final Path README = Path.of("..", "README.md");
    private static final String MARKER = "(`ReadmeExampleTest` takes this code from this file";

    /** The ```java block just before the marker line. */
    static String example(String readme) {
        int marker = readme.indexOf(MARKER);
        assertTrue(marker > 0, "README.md has no line starting " + MARKER);
        int end = readme.lastIndexOf("```", marker);
        int start = readme.lastIndexOf("```java\n", end - 1);
        assertTrue(start >= 0 && end > start, "no ```java block before the marker");
        return readme.substring(start + "```java\n".length(), end);
    }

    static Model model(String name, float w0, float w1, float head) {
        Map<String, float[]> m = new LinkedHashMap<>();
        m.put("layer.weight", new float[] {w0, w1, w0 - w1});
        m.put("head.weight", new float[] {head});
        return Model.ofArrays(name, TensorBackends.reference(), m, Map.of());
    }

    @Test
    void readmeExample_asWritten_mergesTheFilesItNames(@TempDir Path dir) throws Exception {
        Safetensors.write(model("base", 0, 0, 9), dir.resolve("base.safetensors"), DType.F32, Map.of());
        Safetensors.write(model("math", 2, 0, 1), dir.resolve("math.safetensors"), DType.F32, Map.of());
        Safetensors.write(model("code", 0, 2, 2), dir.resolve("code.safetensors"), DType.BF16, Map.of());
        Files.createDirectories(dir.resolve("chat"));
        Safetensors.writeSharded(model("chat", -1, -1, 3), dir.resolve("chat"), DType.F16, Map.of(), 16);

        String program = "import java.nio.file.*;\nimport java.util.*;\nimport org.fwmerge.*;\nimport org.fwmerge.io.*;\n"
                + "import org.fwmerge.tensor.TensorBackends;\n\n"
                + "public class ReadmeExample {\n    public static void main(String[] args) throws Exception {\n"
                + "        Objective objective = new QuadraticObjective(Model.ofArrays(\"target\", TensorBackends.reference(),\n"
                + "                Map.of(\"layer.weight\", new float[] {1, 1, 0}), Map.of()));\n"
                + example(Files.readString(README)) + "    }\n}\n";
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("ReadmeExample.java"), program);
        Path classes = Files.createDirectories(dir.resolve("classes"));
        String classPath = System.getProperty("java.class.path");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        java.io.ByteArrayOutputStream diagnostics = new java.io.ByteArrayOutputStream();
        int compiled = javac.run(null, diagnostics, diagnostics, "-d", classes.toString(), "-cp", classPath,
                src.resolve("ReadmeExample.java").toString());
        assertEquals(0, compiled, "the README example does not compile:\n" + diagnostics + "\n" + program);

        Path launcher = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(launcher.toString(), "-cp", classes + java.io.File.pathSeparator + classPath,
                "-Dfwmerge.backend=reference", "ReadmeExample").directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the README example did not finish");
        assertEquals(0, p.exitValue(), "the README example failed:\n" + output);
        List<String> progress = output.lines().filter(l -> l.matches("\\d+/10 loss .*")).toList();
        assertTrue(!progress.isEmpty() && progress.get(0).startsWith("1/10 loss "), "its listener printed:\n" + output);

        try (Checkpoint out = Safetensors.open(dir.resolve("merged.safetensors"))) {
            // The target (1, 1, 0) is the midpoint of math and code; the base (0, 0, 0) is at squared
            // distance 2 from it. Ten vanilla FW steps get most of the way (the optimum lies on a face).
            float[] w = floats(out, "layer.weight");
            double d2 = (w[0] - 1) * (w[0] - 1) + (w[1] - 1) * (w[1] - 1) + w[2] * w[2];
            assertTrue(d2 < 0.2, "squared distance to the optimum " + d2);
            assertEquals(w[0] - w[1], w[2], 2e-2, "the merge stays in the hull: w2 = w0 − w1 for every vertex");
            assertEquals(9f, floats(out, "head.weight")[0], "the head is not merged: it comes from the base");
            assertEquals(DType.BF16, out.info("layer.weight").dtype());
            assertEquals("fw-hard", out.metadata().get("method"));
            assertTrue(out.metadata().get("candidate.3").contains("chat"), out.metadata().get("candidate.3"));
        }
    }

    private static float[] floats(Checkpoint c, String name) throws IOException {
        return TensorBackends.reference().toFloats(c.load(name, TensorBackends.reference()));
    }
}
