package org.fwmerge.examples.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.fwmerge.BlockPartition;
import org.fwmerge.CoefficientOptions;
import org.fwmerge.Evaluation;
import org.fwmerge.FrankWolfeMerger;
import org.fwmerge.Lmo;
import org.fwmerge.MergeResult;
import org.fwmerge.Merger;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.Objective;
import org.fwmerge.SoftOptions;
import org.fwmerge.Variant;
import org.fwmerge.baseline.TaskArithmetic;
import org.fwmerge.baseline.Ties;
import org.fwmerge.internal.BlockLayout;
import org.fwmerge.internal.LmoPass;
import org.fwmerge.io.DType;
import org.fwmerge.io.Safetensors;
import org.fwmerge.nd4j.Nd4jBackend;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;
import org.fwmerge.tensor.TensorBackends;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fwmerge bench}: the scale figures of fwmerge on synthetic checkpoints it writes into a
 * temporary folder (deleted afterwards), each printed beside its reference measured in the same run:
 * <ul>
 * <li>peak resident memory (VmHWM of {@code /proc/self/status}) of task arithmetic, TIES, FW-hard and
 * FW-soft for the smallest and the largest pool, each merge in a JVM of its own started with this one's
 * options, and their peak tensor memory beside the README's formula;</li>
 * <li>one task-wise LMO pass (⟨g, θ_i⟩ for every candidate, read from the files) against BLAS
 * {@code sdot} over the same gradient and candidates held in memory, and the BF16 pass against the
 * F32 pass of the same parameter count;</li>
 * <li>TIES against {@code cat} of the same files (both read the page cache).</li>
 * </ul>
 * A program, not a test: the figures depend on the machine; the README gives the ones measured.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure memory and throughput of LMO, task arithmetic, TIES and FW-hard on synthetic checkpoints.")
public final class BenchCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--models", split = ",", defaultValue = "4,32",
            description = "Pool sizes to measure, comma-separated (default: ${DEFAULT-VALUE}).")
    List<Integer> counts;

    @Option(names = "--params", defaultValue = "16777216",
            description = "Parameters per checkpoint (default: ${DEFAULT-VALUE}).")
    long params;

    @Option(names = "--tensor", defaultValue = "4194304",
            description = "Elements per tensor (default: ${DEFAULT-VALUE}).")
    long tensorSize;

    @Option(names = "--dtypes", split = ",", defaultValue = "F32,BF16",
            description = "Dtypes of the synthetic pools (default: ${DEFAULT-VALUE}); the methods run on the last.")
    List<DType> dtypes;

    @Option(names = "--methods", split = ",", defaultValue = "ta,ties,fw-hard,fw-soft",
            description = "Methods to time and measure: ta, ties, fw-hard, fw-soft (default: ${DEFAULT-VALUE}).")
    List<String> methodKeys;

    @Option(names = "--skip-lmo", description = "Skip the LMO figures (for pools larger than the page cache).")
    boolean skipLmo;

    @Option(names = "--dir", description = "Where to write the checkpoints (default: a new temporary folder).")
    Path dir;

    /** In a measuring child JVM: METHOD:N, the merge to run once on the first N candidates of {@link #pool}. */
    @Option(names = "--measure", hidden = true)
    String measure;

    /** In a measuring child JVM: the folder of the synthetic pool (base.safetensors, candidate-NNN.safetensors). */
    @Option(names = "--pool", hidden = true)
    Path pool;

    /** Picocli instantiates the command. */
    public BenchCommand() {
    }

    /**
     * The measuring child JVM's entry point ({@code --measure METHOD:N --pool DIR}); users run
     * {@code fwmerge bench}.
     *
     * @param args the command's options
     */
    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new BenchCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        TensorBackend b = TensorBackends.get();
        if (measure != null) {
            String[] mn = measure.split(":");
            Measured m = measureHere(Method.of(mn[0], b), Integer.parseInt(mn[1]), pool, b);
            out.printf("%s %s %d %d%n", MEASURED, m.seconds(), m.peakRssKib(), m.tensorPeakBytes());
            return 0;
        }
        List<Method> chosen = new ArrayList<>();
        for (String key : methodKeys) {
            chosen.add(Method.of(key.trim(), b));
        }
        Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
                "fwmerge-bench");
        try {
            int max = counts.stream().max(Integer::compare).orElseThrow();
            int min = counts.stream().min(Integer::compare).orElseThrow();
            out.printf("fwmerge bench: backend %s, %d cores, max heap %d MiB; %d parameters per checkpoint in tensors of %d%n",
                    b.name(), Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
                    params, tensorSize);
            Map<DType, List<Path>> files = new LinkedHashMap<>();
            for (DType dtype : dtypes) {
                files.put(dtype, Synthetic.write(root.resolve(dtype.name()), max, params, tensorSize, dtype));
            }
            out.printf("wrote %d + 1 checkpoints per dtype under %s%n%n", max, root);
            out.println("| figure | measured | reference | ratio | target |");
            out.println("|---|---|---|---|---|");

            // LMO over `max` candidates of each dtype; F32 against in-memory BLAS sdot, BF16 against F32.
            Map<DType, Double> lmo = new LinkedHashMap<>();
            if (!skipLmo) {
                for (DType dtype : files.keySet()) {
                    List<Path> f = files.get(dtype);
                    try (ModelPool pool = ModelPool.open(f.get(0), f.subList(1, f.size()))) {
                        lmo.put(dtype, lmoSeconds(pool, b));
                    }
                }
            }
            if (lmo.containsKey(DType.F32)) {
                double sdot = sdotSeconds(files.get(DType.F32), max);
                row(out, "LMO pass, " + max + " F32 candidates", lmo.get(DType.F32), "in-memory BLAS sdot " + secs(sdot),
                        sdot / lmo.get(DType.F32), "≥ 0.9×");
            }
            if (lmo.containsKey(DType.F32) && lmo.containsKey(DType.BF16)) {
                row(out, "LMO pass, " + max + " BF16 candidates", lmo.get(DType.BF16), "F32 pass " + secs(lmo.get(DType.F32)),
                        lmo.get(DType.BF16) / lmo.get(DType.F32), "≤ 1.2× (BF16/F32)");
            }

            // Time and memory per method, smallest and largest pool, on the last dtype's checkpoints. Each
            // merge runs in a JVM of its own: in one JVM the heap that an earlier merge grew stays committed,
            // so a later merge's peak would depend on the order of the runs.
            DType dtype = dtypes.get(dtypes.size() - 1);
            List<Path> f = files.get(dtype);
            Map<Method, long[]> rss = new LinkedHashMap<>();
            Map<Method, Long> tensorPeak = new LinkedHashMap<>();
            for (int n : min == max ? new int[] {max} : new int[] {min, max}) {
                for (Method method : chosen) {
                    Measured m = measureInOwnJvm(method, n, root.resolve(dtype.name()));
                    long[] v = rss.computeIfAbsent(method, k -> new long[2]);
                    v[n == min ? 0 : 1] = m.peakRssKib();
                    if (n == max) {
                        if (m.tensorPeakBytes() >= 0) {
                            tensorPeak.put(method, m.tensorPeakBytes());
                        }
                        double cat = catSeconds(f.subList(0, 1 + n));
                        row(out, method.label() + ", " + n + " " + dtype + " candidates", m.seconds(),
                                "cat of the inputs " + secs(cat), m.seconds() / cat, method.key().equals("ties") ? "≤ 3× cat" : "");
                    }
                }
            }
            for (var e : rss.entrySet()) {
                long[] v = e.getValue();
                if (min != max) {
                    out.printf("| peak RSS, %s, %d vs %d %s candidates | %d MiB | %d MiB | %.2f× | ≤ 1.15× |%n",
                            e.getKey().label(), max, min, dtype, v[1] >> 10, v[0] >> 10, v[1] / (double) v[0]);
                } else {
                    out.printf("| peak RSS, %s, %d %s candidates | %d MiB | | | |%n", e.getKey().label(), max, dtype,
                            v[0] >> 10);
                }
            }
            for (var e : tensorPeak.entrySet()) {
                int copies = e.getKey().copies();
                out.printf("| tensor memory, %s, %d candidates | %d MiB | formula %d × 4 bytes × %d = %d MiB | %.2f× | ≤ 1× |%n",
                        e.getKey().label(), max, e.getValue() >> 20, copies, params, (copies * 4L * params) >> 20,
                        e.getValue() / (double) (copies * 4L * params));
            }
            out.printf("%nanonymous memory now (RssAnon): %d MiB%n", Memory.kb("RssAnon") >> 10);
            return 0;
        } finally {
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * A measured method: its command-line key, label, the float32 copies of the merged parameters the
     * README's formula gives it (the result for the data-free methods; point, next point, gradient and
     * a copy of the best iterate for FW), and the merger.
     */
    private record Method(String key, String label, int copies, Merger merger) {
        static Method of(String key, TensorBackend b) {
            return switch (key) {
                case "ta" -> new Method(key, "task arithmetic", 1, TaskArithmetic.builder().backend(b).build());
                case "ties" -> new Method(key, "TIES", 1, Ties.builder().backend(b).build());
                case "fw-hard" -> new Method(key, "FW-hard (3 it.)", 4, FrankWolfeMerger.builder()
                        .objective(new HalfSquaredNorm()).maxIterations(3).backend(b).build());
                case "fw-soft" -> new Method(key, "FW-soft (2 it. × 10 steps, top 2)", 4, FrankWolfeMerger.builder()
                        .objective(new HalfSquaredNorm())
                        .variant(Variant.soft(SoftOptions.topK(2).withCoefficients(CoefficientOptions.defaults().withSteps(10))))
                        .maxIterations(2).backend(b).build());
                default -> throw new IllegalArgumentException("unknown method '" + key
                        + "' (choose from ta, ties, fw-hard, fw-soft)");
            };
        }
    }

    /** What one merge cost: its time, the process's peak resident set, and the backend's peak tensor bytes (-1: unknown). */
    private record Measured(double seconds, long peakRssKib, long tensorPeakBytes) {
    }

    /** The line a measuring child prints its figures on. */
    private static final String MEASURED = "measured:";

    /** Runs {@code method} once on the first {@code n} candidates of the pool in {@code poolDir}, in this JVM. */
    private static Measured measureHere(Method method, int n, Path poolDir, TensorBackend b) throws IOException {
        List<Path> candidates = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            candidates.add(poolDir.resolve(Synthetic.candidate(i)));
        }
        try (ModelPool p = ModelPool.open(poolDir.resolve(Synthetic.BASE), candidates)) {
            Memory.resetPeak();
            if (b instanceof Nd4jBackend nd) {
                nd.resetPeakAllocatedBytes();
            }
            long before = b instanceof Nd4jBackend nd ? nd.allocatedBytes() : 0;
            long t0 = System.nanoTime();
            try (MergeResult r = method.merger().merge(p)) {
                double s = (System.nanoTime() - t0) / 1e9;
                long tensors = b instanceof Nd4jBackend nd ? nd.peakAllocatedBytes() - before : -1;
                return new Measured(s, Memory.kb("VmHWM"), tensors);
            }
        }
    }

    /**
     * {@link #measureHere} in a new JVM with this one's options ({@code -Xmx} and the like) and class path,
     * so each figure starts from the same empty process.
     */
    private static Measured measureInOwnJvm(Method method, int n, Path poolDir) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), BenchCommand.class.getName(),
                "--measure", method.key() + ":" + n, "--pool", poolDir.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("measuring " + method.label() + " on " + n + " candidates failed (exit code "
                    + p.exitValue() + "):\n" + output);
        }
        String line = output.lines().filter(l -> l.startsWith(MEASURED)).findFirst().orElseThrow(
                () -> new IOException("the measuring JVM printed no figures:\n" + output));
        String[] f = line.substring(MEASURED.length()).trim().split(" ");
        return new Measured(Double.parseDouble(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]));
    }

    /** Best of 3 passes (after a warm-up) of the task-wise LMO with a random gradient. */
    private static double lmoSeconds(ModelPool pool, TensorBackend b) {
        List<String> names = pool.base().names();
        try (Model x = Model.load(pool.base(), names, b); Evaluation g = new Evaluation(0, Synthetic.random(b, pool.base(), 7).tensors())) {
            BlockLayout layout = new BlockLayout(names, BlockPartition.whole());
            LmoPass.run(g, x, pool.candidates(), layout, Lmo.Score.INNER_PRODUCT);
            double best = Double.POSITIVE_INFINITY;
            for (int r = 0; r < 3; r++) {
                long t0 = System.nanoTime();
                LmoPass.run(g, x, pool.candidates(), layout, Lmo.Score.INNER_PRODUCT);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            return best;
        }
    }

    /**
     * The same dot products by BLAS over arrays in memory: the gradient against 4 candidates loaded
     * as ND4J arrays, timed and scaled to {@code n} candidates (holding all of them would not fit).
     */
    private static double sdotSeconds(List<Path> files, int n) throws IOException {
        TensorBackend nd = new Nd4jBackend();
        int held = Math.min(4, n);
        try (ModelPool pool = ModelPool.open(files.get(0), files.subList(1, 1 + held))) {
            List<String> names = pool.base().names();
            List<Model> models = new ArrayList<>();
            try (Model g = Synthetic.random(nd, pool.base(), 7)) {
                for (int i = 0; i < held; i++) {
                    models.add(Model.load(pool.candidates().get(i), names, nd));
                }
                double best = Double.POSITIVE_INFINITY;
                for (int r = 0; r < 4; r++) {
                    long t0 = System.nanoTime();
                    double s = 0;
                    for (Model m : models) {
                        for (String name : names) {
                            s += Nd4j.getBlasWrapper().dot(Nd4jBackend.array(g.tensor(name)).reshape(-1),
                                    Nd4jBackend.array(m.tensor(name)).reshape(-1));
                        }
                    }
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                    if (!Double.isFinite(s)) {
                        throw new IllegalStateException("sdot gave " + s);
                    }
                }
                return best * n / held;
            } finally {
                models.forEach(Model::close);
            }
        }
    }

    /** Best of 3 {@code cat FILES > /dev/null} (the files are in the page cache, as for the merges). */
    private static double catSeconds(List<Path> files) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("cat"));
        files.forEach(p -> cmd.add(p.toString()));
        double best = Double.POSITIVE_INFINITY;
        for (int r = 0; r < 3; r++) {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (p.waitFor() != 0) {
                throw new IOException("cat failed with exit code " + p.exitValue());
            }
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }

    private static void row(PrintWriter out, String figure, double seconds, String reference, double ratio, String target) {
        out.printf("| %s | %s | %s | %.2f× | %s |%n", figure, secs(seconds), reference, ratio, target);
        out.flush();
    }

    private static String secs(double s) {
        return String.format("%.3f s", s);
    }

    /** ℓ(θ) = ½‖θ‖², ∇ℓ = θ: a data-free objective, so FW-hard's own passes are what is measured. */
    private static final class HalfSquaredNorm implements Objective {
        @Override
        public double loss(Model x) {
            return 0.5 * x.dot(x);
        }

        @Override
        public Evaluation evaluate(Model x) {
            Map<String, Tensor> g = new LinkedHashMap<>();
            x.tensors().forEach((name, t) -> g.put(name, x.backend().copyOf(t)));
            return new Evaluation(loss(x), g);
        }
    }

    /** Synthetic checkpoints: a random base and candidates = base + seeded noise. */
    static final class Synthetic {
        /** The base's file name in a synthetic pool's folder. */
        static final String BASE = "base.safetensors";

        private Synthetic() {
        }

        /** Candidate i's file name (from 1). */
        static String candidate(int i) {
            return String.format("candidate-%03d.safetensors", i);
        }

        /**
         * Writes base.safetensors and {@code n} candidates, each generated tensor by tensor as it is
         * written (one tensor in memory, whatever the size); returns [base, candidates…].
         */
        static List<Path> write(Path dir, int n, long params, long tensorSize, DType dtype) throws IOException {
            Files.createDirectories(dir);
            List<Path> out = new ArrayList<>();
            for (int i = 0; i <= n; i++) {
                Path p = dir.resolve(i == 0 ? BASE : candidate(i));
                try (Generated g = new Generated(i, params, tensorSize)) {
                    Safetensors.write(g, p, dtype, Map.of());
                }
                out.add(p);
            }
            return out;
        }

        /**
         * Checkpoint {@code model} (0 = the base) of the synthetic pool: tensor t of the base is uniform in
         * ±0.02 from a stream seeded by t; a candidate adds uniform ±0.002 noise seeded by (model, t).
         */
        private static final class Generated implements org.fwmerge.io.Checkpoint {
            private final int model;
            private final long params;
            private final long tensorSize;
            private final List<String> names = new ArrayList<>();

            Generated(int model, long params, long tensorSize) {
                this.model = model;
                this.params = params;
                this.tensorSize = tensorSize;
                for (long t = 0; t * tensorSize < params; t++) {
                    names.add(String.format("layers.%05d.weight", t));
                }
            }

            @Override
            public String source() {
                return "synthetic-" + model;
            }

            @Override
            public List<String> names() {
                return names;
            }

            @Override
            public org.fwmerge.io.TensorInfo info(String name) {
                int t = names.indexOf(name);
                return new org.fwmerge.io.TensorInfo(name, DType.F32,
                        new long[] {Math.min(tensorSize, params - t * tensorSize)});
            }

            @Override
            public Tensor load(String name, TensorBackend backend) {
                int t = names.indexOf(name);
                SplittableRandom base = new SplittableRandom(1_000_003L * t + 1);
                SplittableRandom noise = new SplittableRandom(1_000_003L * t + 7919L * model + 2);
                Tensor x = backend.zeros(info(name).shape());
                float[] chunk = new float[1 << 16];
                for (long off = 0; off < x.size(); off += chunk.length) {
                    int len = (int) Math.min(chunk.length, x.size() - off);
                    for (int k = 0; k < len; k++) {
                        float v = (base.nextInt() >> 8) * (0.02f / (1 << 23));
                        chunk[k] = model == 0 ? v : v + (noise.nextInt() >> 8) * (0.002f / (1 << 23));
                    }
                    backend.set(x, off, chunk, 0, len);
                }
                return backend.seal(x);
            }

            @Override
            public Map<String, String> metadata() {
                return Map.of();
            }
        }

        /** A model of seeded uniform values shaped like {@code like}. */
        static Model random(TensorBackend b, org.fwmerge.io.Checkpoint like, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            Map<String, Tensor> t = new LinkedHashMap<>();
            float[] chunk = new float[1 << 16];
            for (String name : like.names()) {
                Tensor x = b.zeros(like.info(name).shape());
                for (long off = 0; off < x.size(); off += chunk.length) {
                    int len = (int) Math.min(chunk.length, x.size() - off);
                    for (int k = 0; k < len; k++) {
                        chunk[k] = (float) r.nextDouble(-1, 1);
                    }
                    b.set(x, off, chunk, 0, len);
                }
                t.put(name, x);
            }
            return Model.of("random", b, t);
        }
    }

    /** Peak and current memory of this process from {@code /proc/self/status} (Linux). */
    static final class Memory {
        private Memory() {
        }

        /** Resets VmHWM to the current RSS ("5" to clear_refs, Linux ≥ 4.0), after a GC. */
        static void resetPeak() throws IOException {
            System.gc();
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        }

        static long kb(String key) throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key + ":")) {
                    return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").trim());
                }
            }
            throw new IOException(key + " not in /proc/self/status");
        }
    }
}
