package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library logs through SLF4J and never prints: no {@code System.out}, {@code System.err} or
 * {@code printStackTrace} in the main code of fwmerge-core and fwmerge-nd4j (progress reaches users
 * through listeners, diagnostics through the logger they bind).
 */
class LoggingPolicyTest {

    @Test
    void libraryMainCode_neverPrints() throws IOException {
        List<String> offenders = new ArrayList<>();
        for (Path root : List.of(Path.of("src/main/java"), Path.of("../fwmerge-nd4j/src/main/java"))) {
            if (!Files.isDirectory(root)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                    List<String> lines = Files.readAllLines(f);
                    for (int i = 0; i < lines.size(); i++) {
                        String l = lines.get(i);
                        if (l.contains("System.out") || l.contains("System.err") || l.contains("printStackTrace")) {
                            offenders.add(f + ":" + (i + 1) + ": " + l.trim());
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), offenders);
    }
}
