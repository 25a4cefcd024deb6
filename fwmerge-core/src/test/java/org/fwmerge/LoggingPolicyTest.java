package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library logs through SLF4J and never prints: no call printing to {@code System.out} or
 * {@code System.err} and no {@code printStackTrace} in the main code of fwmerge-core and fwmerge-nd4j (progress reaches users
 * through listeners, diagnostics through the logger they bind).
 */
class LoggingPolicyTest {

    /** A call that writes to the console (SameDiffOutput only swaps System.out, to filter ND4J's chatter). */
    private static final java.util.regex.Pattern PRINTS =
            java.util.regex.Pattern.compile("System\\.(out|err)\\.(print|write|format|append)|printStackTrace\\(");

    @Test
    void libraryMainCode_neverPrints() throws IOException {
        List<String> offenders = new ArrayList<>();
        for (Path root : List.of(Path.of("src/main/java"), Path.of("../fwmerge-nd4j/src/main/java"))) {
            // A check that finds nothing to read proves nothing: it must fail, not pass.
            assertTrue(Files.isDirectory(root), "no sources at " + root.toAbsolutePath() + " (run from fwmerge-core)");
            int read = 0;
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                    read++;
                    List<String> lines = Files.readAllLines(f);
                    for (int i = 0; i < lines.size(); i++) {
                        String l = lines.get(i).trim();
                        boolean comment = l.startsWith("*") || l.startsWith("//") || l.startsWith("/*");
                        if (!comment && PRINTS.matcher(l).find()) {
                            offenders.add(f + ":" + (i + 1) + ": " + l.trim());
                        }
                    }
                }
            }
            assertTrue(read >= 5, "only " + read + " Java files under " + root.toAbsolutePath());
        }
        assertEquals(List.of(), offenders);
    }
}
