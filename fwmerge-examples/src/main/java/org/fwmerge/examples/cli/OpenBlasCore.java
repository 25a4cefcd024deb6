package org.fwmerge.examples.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Starts the command in a JVM whose OpenBLAS uses this CPU's vector units.
 *
 * <p>ND4J 1.0.0-M2.1 ships OpenBLAS 0.3.19, which chooses its kernels at load time from the CPU model it
 * knows: a newer x86 CPU (here a Xeon with AVX-512 and AMX, Sapphire Rapids) is taken for a "Prescott" and
 * gets SSE3 kernels — single-thread sgemm at 13 GFLOPS against 41 with its AVX2 ("Haswell") kernels, which
 * made the demo's SameDiff work (zoo training, FW-soft's and AdaMerging's steps) several times slower. The
 * choice is read once from the environment variable {@code OPENBLAS_CORETYPE}, before the library loads, and
 * Java cannot set its own environment; so where the variable is unset and the CPU has AVX2 with FMA,
 * {@code fwmerge} runs itself again with {@code Haswell}. Not the AVX-512 kernels ("SkylakeX", sgemm at 80
 * GFLOPS): on this CPU their {@code dgesv} returned wrong solutions (relative error 1, where Haswell's and
 * Prescott's agree with Commons Math to 1e-15). A variable already set is kept as it is (some machines set it
 * to avoid kernels that fail on them).
 */
final class OpenBlasCore {

    static final String VARIABLE = "OPENBLAS_CORETYPE";
    /** Set in the child: never relaunch twice. */
    static final String GUARD = "FWMERGE_OPENBLAS_RELAUNCHED";

    private OpenBlasCore() {
    }

    /**
     * The kernels OpenBLAS should use for CPU flags as {@code /proc/cpuinfo} lists them: Haswell with AVX2 and
     * FMA (AVX-512 CPUs included, see the class comment), none otherwise (OpenBLAS's own choice stands).
     */
    static Optional<String> coreFor(Set<String> flags) {
        if (flags.containsAll(Set.of("avx2", "fma"))) {
            return Optional.of("Haswell");
        }
        return Optional.empty();
    }

    /** The flags of the first processor in {@code /proc/cpuinfo}; empty where there is none (not Linux). */
    static Set<String> cpuFlags(Path cpuinfo) {
        try {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith("flags")) {
                    return Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                }
            }
        } catch (IOException | RuntimeException e) {
            // No cpuinfo to read: leave OpenBLAS to choose.
        }
        return Set.of();
    }

    /**
     * Runs {@code args} in a child JVM with {@value #VARIABLE} set, where that helps (see the class comment),
     * standard streams inherited.
     *
     * @return the child's exit code, or empty where this JVM should run the command itself
     */
    static Optional<Integer> relaunch(String mainClass, String[] args) {
        Map<String, String> env = System.getenv();
        if (env.containsKey(VARIABLE) || env.containsKey(GUARD) || !"amd64".equals(System.getProperty("os.arch"))) {
            return Optional.empty();
        }
        Optional<String> core = coreFor(cpuFlags(Path.of("/proc/cpuinfo")));
        Optional<String> java = ProcessHandle.current().info().command();
        if (core.isEmpty() || java.isEmpty()) {
            return Optional.empty();
        }
        List<String> command = new ArrayList<>();
        command.add(java.get());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
        pb.environment().put(VARIABLE, core.get());
        pb.environment().put(GUARD, "1");
        try {
            Process child = pb.start();
            // Ending this JVM (a kill, not only Ctrl-C, which reaches both) ends the child too.
            Thread stop = new Thread(child::destroy);
            Runtime.getRuntime().addShutdownHook(stop);
            int code = child.waitFor();
            Runtime.getRuntime().removeShutdownHook(stop);
            return Optional.of(code);
        } catch (IOException e) {
            return Optional.empty(); // cannot start a JVM: run here, with OpenBLAS's own choice
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of(130);
        }
    }
}
