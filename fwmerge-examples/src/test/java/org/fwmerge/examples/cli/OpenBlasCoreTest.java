package org.fwmerge.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which OpenBLAS kernels {@code fwmerge} asks for, and the relaunch that applies them. */
class OpenBlasCoreTest {

    @Test
    void coreFor_avx2_haswell_avx512too_else_openBlasChooses() {
        assertEquals(Optional.of("Haswell"), OpenBlasCore.coreFor(Set.of("sse3", "avx2", "fma", "avx512f", "avx512bw",
                "avx512dq", "avx512vl", "amx_tile")), "not SkylakeX: its dgesv is wrong on such a CPU");
        assertEquals(Optional.of("Haswell"), OpenBlasCore.coreFor(Set.of("sse3", "avx", "avx2", "fma")));
        assertEquals(Optional.empty(), OpenBlasCore.coreFor(Set.of("sse3", "avx")));
        assertEquals(Optional.empty(), OpenBlasCore.coreFor(Set.of()));
    }

    @Test
    void cpuFlags_readsTheFirstProcessorsFlags_orNoneWithoutTheFile(@TempDir Path dir) throws IOException {
        Path cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(cpuinfo, "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse3 avx2 fma\n\n"
                + "processor\t: 1\nflags\t\t: fpu\n");
        assertEquals(Set.of("fpu", "sse3", "avx2", "fma"), OpenBlasCore.cpuFlags(cpuinfo));
        assertEquals(Set.of(), OpenBlasCore.cpuFlags(dir.resolve("missing")));
    }

    /** The command runs in a child JVM where this CPU calls for it, with the same arguments, output and exit code. */
    @Test
    void fwmerge_runsTheSameCommand_throughTheRelaunch() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        for (List<String> args : List.of(List.of("--version"), List.of("no-such-command"))) {
            ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    FwmergeCli.class.getName());
            pb.command().addAll(args);
            pb.environment().remove(OpenBlasCore.VARIABLE);
            pb.environment().remove(OpenBlasCore.GUARD);
            pb.redirectErrorStream(true);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int code = p.waitFor();
            if (args.get(0).equals("--version")) {
                assertEquals(0, code, out);
                assertTrue(out.contains("fwmerge 0.1.0"), out);
            } else {
                assertEquals(2, code, "a usage error keeps its exit code: " + out);
            }
        }
    }
}
