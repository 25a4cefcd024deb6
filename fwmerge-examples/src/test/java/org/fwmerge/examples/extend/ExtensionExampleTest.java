package org.fwmerge.examples.extend;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.fwmerge.Model;
import org.fwmerge.tensor.TensorBackends;
import org.fwmerge.testing.MergeFnCheck;
import org.fwmerge.testing.StepSizeRuleCheck;
import org.junit.jupiter.api.Test;

/** The custom merge function and step rule pass the kit; the whole example merges for real; the README shows their code. */
class ExtensionExampleTest {

    @Test
    void dampedMergeFn_passesTheMergeFnCheck() {
        try (Model x = ExtensionExample.zeros(TensorBackends.reference(), 3); Model s = x.copy()) {
            TensorBackends.reference().set(s.tensor(SoftmaxRegression.BIAS), 0, new float[] {1, -2, 3}, 0, 3);
            TensorBackends.reference().set(s.tensor(SoftmaxRegression.WEIGHT), 5, new float[] {0.5f}, 0, 1);
            MergeFnCheck.verify(new DampedMergeFn(Pattern.compile(".*\\.bias"), 0.5), x, s);
        }
        assertThrows(IllegalArgumentException.class, () -> new DampedMergeFn(Pattern.compile("x"), 1.5));
    }

    @Test
    void armijoBacktracking_passesTheStepSizeRuleCheck() {
        StepSizeRuleCheck.verify(new ArmijoBacktracking(1e-4, 12));
        StepSizeRuleCheck.verify(new ArmijoBacktracking(0.5, 0));
        assertThrows(IllegalArgumentException.class, () -> new ArmijoBacktracking(1, 3));
    }

    @Test
    void run_mergesTheTwoTargetTasksBetterThanTheBaseAndAnySingleCandidate() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ExtensionExample.Outcome o = ExtensionExample.run(new PrintStream(buf, true, StandardCharsets.UTF_8), 30, 6);
        String printed = buf.toString(StandardCharsets.UTF_8);
        assertTrue(o.lastLoss() < o.firstLoss(), printed);
        assertTrue(o.mergedAccuracy() > o.baseAccuracy() + 0.1, printed);
        assertTrue(o.mergedAccuracy() > o.bestCandidateAccuracy(), printed);
        assertTrue(printed.contains("FW merge"), printed);
    }

    /** Every code region tagged in the extension examples appears verbatim in the README. */
    @Test
    void readme_showsTheExamplesCodeAsItIs() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        Path main = Path.of("src/main/java/org/fwmerge/examples/extend");
        Path test = Path.of("src/test/java/org/fwmerge/examples/extend");
        List<String[]> regions = List.of(new String[] {"objective", main + "/SoftmaxRegression.java"},
                new String[] {"objectivetest", test + "/SoftmaxRegressionTest.java"},
                new String[] {"mergefn", main + "/DampedMergeFn.java"},
                new String[] {"steprule", main + "/ArmijoBacktracking.java"},
                new String[] {"builder", main + "/ExtensionExample.java"});
        for (String[] r : regions) {
            String region = region(Files.readString(Path.of(r[1])), r[0]);
            assertTrue(readme.contains(region), "README.md lacks the code of region '" + r[0] + "' of " + r[1]
                    + " as it is now:\n" + region);
        }
    }

    /** The lines between {@code // tag::name[]} and {@code // end::name[]}, common indentation removed. */
    static String region(String source, String name) {
        List<String> lines = new ArrayList<>();
        boolean in = false;
        for (String line : source.split("\n", -1)) {
            if (line.trim().equals("// end::" + name + "[]")) {
                break;
            }
            if (in) {
                lines.add(line);
            }
            in |= line.trim().equals("// tag::" + name + "[]");
        }
        assertTrue(!lines.isEmpty(), "no region '" + name + "'");
        int indent = Integer.MAX_VALUE;
        for (String l : lines) {
            if (!l.isBlank()) {
                indent = Math.min(indent, l.length() - l.stripLeading().length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return sb.toString();
    }
}
