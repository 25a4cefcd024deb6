package org.fwmerge.baseline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.LayerInputs;
import org.fwmerge.MergeResult;
import org.fwmerge.Model;
import org.fwmerge.ModelPool;
import org.fwmerge.ParameterSelection;
import org.fwmerge.internal.Combine;
import org.fwmerge.internal.Readers;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.tensor.Matrix;
import org.fwmerge.tensor.Tensor;

/**
 * RegMean (Jin et al., ICLR 2023) and RegMean++, as FusionBench defines them ({@code method/regmean},
 * {@code method/regmean_plusplus}). For each linear layer with weights Wᵢ (oriented [in, out]) and
 * Gᵢ = XᵢᵀXᵢ / Nᵢ the Gram matrix of the layer's inputs on candidate i's data, off-diagonal entries scaled
 * by α ({@link Builder#offDiagonal}, default {@value #DEFAULT_OFF_DIAGONAL}, FusionBench's CLIP setting):
 * W = (Σᵢ G̃ᵢ)⁻¹ Σᵢ G̃ᵢ Wᵢ, the least-squares merge of the layers' outputs on all tasks' data. Every other tensor
 * is the mean of the candidates. Candidate i's Grams come from the i-th {@link LayerInputs} given to the
 * builder.
 *
 * <p><b>RegMean</b> takes each candidate's Grams at the candidate itself. <b>RegMean++</b>
 * ({@link Builder#layerByLayer}) merges block by block, in forward order: block l's Grams for candidate i are
 * taken at candidate i with every earlier block (and every tensor in no block) already replaced by its merge,
 * so each layer is fitted to the inputs the merged model will really feed it.
 *
 * <p>One departure, where FusionBench's inverse fails: an input feature that is zero on every task's data
 * (a dead unit, a constant-zero pixel) leaves a zero row and column in Σ G̃ᵢ. Its weights are then not
 * determined by the data; they are given the candidates' mean (a unit diagonal entry in each Gᵢ for that
 * feature) instead of failing.
 *
 * <p>Memory: the output, one candidate model at a time (loaded to compute its Grams) and, per layer, Σ G̃ᵢ
 * ([in, in]) and Σ G̃ᵢWᵢ ([in, out]) in double — independent of the number of candidates.
 */
public final class RegMean extends BaselineMerger {

    /** Default scale α of the Gram matrices' off-diagonal entries (FusionBench's CLIP configurations). */
    public static final double DEFAULT_OFF_DIAGONAL = 0.95;

    private final List<LayerInputs> inputs;
    private final double offDiagonal;
    private final List<ParameterSelection> blocks;

    private RegMean(Builder b) {
        super(b);
        this.inputs = List.copyOf(Objects.requireNonNull(b.inputs, "RegMean needs inputs(...): one LayerInputs per candidate"));
        this.offDiagonal = b.offDiagonal == null ? DEFAULT_OFF_DIAGONAL : b.offDiagonal;
        this.blocks = b.blocks == null ? List.of() : b.blocks;
    }

    /** A builder; {@link Builder#inputs} is required. */
    public static Builder builder() {
        return new Builder();
    }

    private String method() {
        return blocks.isEmpty() ? "regmean" : "regmean++";
    }

    /**
     * Merges the pool.
     *
     * @throws IllegalArgumentException     if the number of inputs differs from the pool's candidates, the
     *                                      selection matches no tensor, or a layer's Gram does not fit its weight
     * @throws ArithmeticException          if a layer's summed Gram matrix is singular (α = 1 with fewer samples
     *                                      than input features)
     * @throws java.io.UncheckedIOException if a checkpoint cannot be read
     */
    @Override
    public MergeResult merge(ModelPool pool) {
        Objects.requireNonNull(pool, "pool");
        if (inputs.size() != pool.size()) {
            throw new IllegalArgumentException("RegMean has " + inputs.size() + " LayerInputs for a pool of " + pool.size()
                    + " candidates: give one per candidate, in the pool's order");
        }
        long start = System.nanoTime();
        List<String> names = pool.select(parameters);
        Model out = Support.zeros(pool, names, backend, method());
        try {
            List<String> done = new ArrayList<>();
            for (List<String> stage : stages(names)) {
                if (!stage.isEmpty()) {
                    mergeStage(pool, names, stage, done, out);
                    done.addAll(stage);
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Support.result(out, method(), configuration(), pool, start);
    }

    /** RegMean: one stage. RegMean++: the tensors in no block first, then each block in order. */
    private List<List<String>> stages(List<String> names) {
        List<List<String>> stages = new ArrayList<>();
        if (blocks.isEmpty()) {
            stages.add(names);
            return stages;
        }
        List<String> rest = new ArrayList<>(names);
        List<List<String>> inBlocks = new ArrayList<>();
        for (ParameterSelection block : blocks) {
            List<String> members = rest.stream().filter(block::test).toList();
            if (members.isEmpty()) {
                throw new IllegalArgumentException("RegMean++ block " + block + " matches no merged tensor"
                        + " (not already in an earlier block); names are matched whole, e.g. include(\"layers\\\\.0\\\\..*\")");
            }
            rest.removeAll(members);
            inBlocks.add(members);
        }
        stages.add(rest);
        stages.addAll(inBlocks);
        return stages;
    }

    /**
     * Merges the tensors of one stage: each candidate's Grams at the candidate with the tensors of the
     * completed stages ({@code done}) replaced by their merge in {@code out}.
     */
    private void mergeStage(ModelPool pool, List<String> names, List<String> stage, List<String> done, Model out) {
        int n = pool.size();
        Map<String, Matrix> sumG = new LinkedHashMap<>();
        Map<String, Matrix> sumGW = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Map<String, LayerInputs.Orientation> layers = inputs.get(i).layers();
            List<String> here = stage.stream().filter(layers::containsKey).toList();
            if (here.isEmpty()) {
                continue;
            }
            try (Model point = Model.load(pool.candidates().get(i), names, backend)) {
                for (String d : done) {
                    backend.copy(out.tensor(d), point.tensor(d));
                }
                Map<String, Matrix> grams = inputs.get(i).grams(point);
                for (String w : here) {
                    Matrix weight = oriented(point, w, layers.get(w));
                    Matrix g = reduced(grams.get(w), w, i, weight.rows());
                    accumulate(sumG, w, g);
                    accumulate(sumGW, w, backend.multiply(g, weight));
                }
            }
        }
        List<Checkpoint> candidates = pool.candidates();
        for (String name : stage) {
            if (sumG.containsKey(name)) {
                Matrix g = sumG.get(name);
                Matrix gw = sumGW.get(name);
                undetermined(g, gw, name, pool);
                Matrix w = backend.solve(g, gw);
                write(out.tensor(name), inputs.get(0).layers().get(name) == LayerInputs.Orientation.OUT_BY_IN ? w.transpose() : w);
            } else {
                double[] weights = new double[n];
                java.util.Arrays.fill(weights, 1.0 / n);
                try (Readers r = Readers.open(candidates, name)) {
                    Combine.into(out.tensor(name), weights, r.all());
                }
            }
        }
    }

    /** The weight as an [in, out] matrix in double. */
    private Matrix oriented(Model point, String name, LayerInputs.Orientation o) {
        Tensor t = point.tensor(name);
        long[] shape = t.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException("RegMean: layer weight '" + name + "' is not 2-D (shape "
                    + java.util.Arrays.toString(shape) + ")");
        }
        float[] v = backend.toFloats(t);
        double[] d = new double[v.length];
        for (int k = 0; k < v.length; k++) {
            d[k] = v[k];
        }
        Matrix m = new Matrix((int) shape[0], (int) shape[1], d);
        return o == LayerInputs.Orientation.OUT_BY_IN ? m.transpose() : m;
    }

    /** G with off-diagonal entries scaled by α, checked against the weight's input size. */
    private Matrix reduced(Matrix gram, String name, int candidate, int in) {
        if (gram == null) {
            throw new IllegalArgumentException("RegMean: LayerInputs " + candidate + " lists layer '" + name
                    + "' but returned no Gram matrix for it");
        }
        if (gram.rows() != in || gram.cols() != in) {
            throw new IllegalArgumentException("RegMean: the Gram matrix of layer '" + name + "' from LayerInputs "
                    + candidate + " is " + gram.rows() + " x " + gram.cols() + ", but the weight has " + in + " inputs");
        }
        double[] v = gram.values().clone();
        for (int r = 0; r < in; r++) {
            for (int c = 0; c < in; c++) {
                if (r != c) {
                    v[r * in + c] *= offDiagonal;
                }
            }
        }
        return new Matrix(in, in, v);
    }

    private static void accumulate(Map<String, Matrix> sums, String name, Matrix m) {
        Matrix s = sums.get(name);
        if (s == null) {
            sums.put(name, m);
            return;
        }
        double[] a = s.values();
        double[] b = m.values();
        for (int k = 0; k < a.length; k++) {
            a[k] += b[k];
        }
    }

    /**
     * Input features with a zero diagonal in Σ G̃ (zero on all data): a unit diagonal in each candidate's Gram,
     * which makes the merged rows the candidates' mean.
     */
    private void undetermined(Matrix g, Matrix gw, String name, ModelPool pool) {
        int in = g.rows();
        int cols = gw.cols();
        Matrix mean = null;
        for (int k = 0; k < in; k++) {
            if (g.values()[k * in + k] == 0) {
                if (mean == null) {
                    mean = meanWeight(pool, name);
                }
                int n = pool.size();
                g.values()[k * in + k] = n;
                for (int c = 0; c < cols; c++) {
                    gw.values()[k * cols + c] = n * mean.values()[k * cols + c];
                }
            }
        }
    }

    /** The candidates' mean of a layer's weight, oriented [in, out]. */
    private Matrix meanWeight(ModelPool pool, String name) {
        Matrix sum = null;
        LayerInputs.Orientation o = inputs.get(0).layers().get(name);
        for (Checkpoint c : pool.candidates()) {
            try (Model m = Model.load(c, List.of(name), backend)) {
                Matrix w = oriented(m, name, o);
                if (sum == null) {
                    sum = w;
                } else {
                    for (int k = 0; k < w.values().length; k++) {
                        sum.values()[k] += w.values()[k];
                    }
                }
            }
        }
        for (int k = 0; k < sum.values().length; k++) {
            sum.values()[k] /= pool.size();
        }
        return sum;
    }

    private void write(Tensor out, Matrix w) {
        float[] f = new float[w.values().length];
        for (int k = 0; k < f.length; k++) {
            f[k] = (float) w.values()[k];
        }
        backend.set(out, 0, f, 0, f.length);
    }

    @Override
    Map<String, String> settings() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("method", method());
        c.put("offDiagonal", Double.toString(offDiagonal));
        if (!blocks.isEmpty()) {
            c.put("blocks", blocks.toString());
        }
        return c;
    }

    /**
     * Configures a {@link RegMean}. Each setter may be called once ({@link IllegalStateException} on a second
     * call); {@link #build()} leaves the builder unchanged. Not thread-safe.
     */
    public static final class Builder extends BaselineBuilder<Builder> {
        private List<LayerInputs> inputs;
        private Double offDiagonal;
        private List<ParameterSelection> blocks;

        private Builder() {
        }

        /**
         * The source of each candidate's Gram matrices, one per candidate in the pool's order (its task's
         * calibration data). Layers that the first source lists are merged by RegMean; every source must
         * list the same layers.
         *
         * @throws IllegalArgumentException if empty, a source lists no layer, or the sources list different layers
         */
        public Builder inputs(List<? extends LayerInputs> perCandidate) {
            once(this.inputs, "inputs");
            if (perCandidate.isEmpty()) {
                throw new IllegalArgumentException("inputs must not be empty");
            }
            Map<String, LayerInputs.Orientation> first = perCandidate.get(0).layers();
            if (first.isEmpty()) {
                throw new IllegalArgumentException("LayerInputs 0 lists no layer: declare the linear layers' inputs"
                        + " (SameDiffObjective.Builder.layerInput)");
            }
            for (int i = 1; i < perCandidate.size(); i++) {
                if (!perCandidate.get(i).layers().equals(first)) {
                    throw new IllegalArgumentException("LayerInputs " + i + " lists layers " + perCandidate.get(i).layers()
                            + ", LayerInputs 0 lists " + first + ": all must list the same layers");
                }
            }
            this.inputs = List.copyOf(perCandidate);
            return this;
        }

        /**
         * The scale α of the Gram matrices' off-diagonal entries (FusionBench's {@code reduce_non_diagonal_ratio};
         * default {@value RegMean#DEFAULT_OFF_DIAGONAL}); α &lt; 1 keeps the summed Gram invertible.
         *
         * @throws IllegalArgumentException if not in [0, 1]
         */
        public Builder offDiagonal(double alpha) {
            once(this.offDiagonal, "offDiagonal");
            if (!(alpha >= 0 && alpha <= 1)) {
                throw new IllegalArgumentException("offDiagonal must be in [0, 1], got " + alpha);
            }
            this.offDiagonal = alpha;
            return this;
        }

        /**
         * RegMean++: the model's blocks in forward order (e.g. {@code include("layers\\.0\\..*")}, …; names are
         * matched whole), each
         * merged with Grams taken at the inputs the merged earlier blocks produce. Tensors in no block are
         * merged first, at the candidates themselves.
         *
         * @throws IllegalArgumentException if no block is given (and, at merge time, if a block matches no tensor)
         */
        public Builder layerByLayer(ParameterSelection... blocksInOrder) {
            once(this.blocks, "layerByLayer");
            if (blocksInOrder.length == 0) {
                throw new IllegalArgumentException("layerByLayer needs at least one block");
            }
            this.blocks = List.of(blocksInOrder);
            return this;
        }

        /**
         * The configured merger.
         *
         * @throws NullPointerException if {@link #inputs} was not set
         */
        public RegMean build() {
            return new RegMean(this);
        }
    }
}
