package org.fwmerge;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.CheckpointException;
import org.fwmerge.io.CheckpointMismatchException;
import org.fwmerge.io.Safetensors;
import org.fwmerge.io.TensorInfo;

/**
 * A base (pre-trained) model and the fine-tuned candidates to merge, checked against each other
 * when the pool is made and read lazily afterwards.
 *
 * <p>Every candidate must hold exactly the base's tensor names with the same shapes; the first
 * difference is reported as a {@link CheckpointMismatchException} naming the candidate, the tensor
 * and both shapes. Nothing is loaded when the pool is made: mergers stream the candidates tensor by
 * tensor, so memory does not grow with the number of candidates. Closing the pool closes every
 * checkpoint in it.
 */
public final class ModelPool implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelPool.class);

    private final Checkpoint base;
    private final List<Checkpoint> candidates;
    private final boolean owner; // false for a subset: its checkpoints belong to the pool it was taken from

    private ModelPool(Checkpoint base, List<Checkpoint> candidates, boolean owner) {
        this.base = base;
        this.candidates = candidates;
        this.owner = owner;
    }

    /**
     * A pool over already-opened checkpoints.
     *
     * @throws CheckpointMismatchException if a candidate's tensors or shapes differ from the base's
     * @throws IllegalArgumentException    if there are no candidates
     */
    public static ModelPool of(Checkpoint base, List<? extends Checkpoint> candidates) throws CheckpointMismatchException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(candidates, "candidates");
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("a model pool needs at least one candidate besides the base " + base.source());
        }
        List<Checkpoint> list = List.copyOf(candidates);
        for (Checkpoint c : list) {
            checkCompatible(base, c);
        }
        LOG.debug("pool of {} candidates over base {}", list.size(), base.source());
        return new ModelPool(base, list, true);
    }

    /**
     * Opens a base and candidates from disk and checks them against each other. Each path is a
     * safetensors file or a checkpoint directory ({@link Safetensors#open}); a candidate directory
     * holding {@code adapter_config.json} is a LoRA adapter, opened over the base
     * ({@link Safetensors#openAdapter}). On failure everything opened so far is closed again.
     *
     * @throws CheckpointException         (its subtype kept) if a file is malformed; the message names the
     *                                     file, which is the candidate or lies in it
     * @throws CheckpointMismatchException if a candidate's tensors or shapes differ from the base's
     * @throws IllegalArgumentException    if {@code candidates} is empty
     */
    public static ModelPool open(Path base, List<Path> candidates) throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(candidates, "candidates");
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("a model pool needs at least one candidate besides the base " + base);
        }
        List<Checkpoint> opened = new ArrayList<>();
        Checkpoint b = Safetensors.open(base);
        try {
            for (Path p : candidates) {
                Objects.requireNonNull(p, "candidate path");
                opened.add(openCandidate(b, p));
            }
            return of(b, opened);
        } catch (IOException | RuntimeException e) {
            opened.forEach(Checkpoint::close);
            b.close();
            throw e;
        }
    }

    /**
     * Opens a base and, as candidates, the entries of {@code dir} whose names match {@code glob}
     * (e.g. {@code "*.safetensors"} or {@code "task-*"}), sorted by name; the base itself is skipped
     * if it matches. Entries are opened as in {@link #open(Path, List)}.
     *
     * @throws IllegalArgumentException if nothing matches
     */
    public static ModelPool open(Path base, Path dir, String glob) throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(glob, "glob");
        List<Path> found = new ArrayList<>();
        Path baseReal = base.toRealPath();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
            for (Path p : s) {
                if (!p.toRealPath().equals(baseReal)) {
                    found.add(p);
                }
            }
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("no candidate in " + dir + " matches \"" + glob + "\"");
        }
        found.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return open(base, found);
    }

    /** A candidate: an adapter directory over the base, or a checkpoint (every failure names its file). */
    private static Checkpoint openCandidate(Checkpoint base, Path p) throws IOException {
        if (Files.isDirectory(p) && Files.exists(p.resolve("adapter_config.json"))) {
            return Safetensors.openAdapter(base, p);
        }
        return Safetensors.open(p);
    }

    /** Checks that {@code candidate} has exactly the tensors and shapes of {@code base}. */
    static void checkCompatible(Checkpoint base, Checkpoint candidate) throws CheckpointMismatchException {
        for (String name : base.names()) {
            if (!candidate.contains(name)) {
                throw new CheckpointMismatchException("candidate " + candidate.source() + " lacks tensor '" + name
                        + "' of shape " + Arrays.toString(base.info(name).shape()) + " that base " + base.source() + " has");
            }
            TensorInfo b = base.info(name);
            TensorInfo c = candidate.info(name);
            if (!b.sameShape(c)) {
                throw new CheckpointMismatchException("candidate " + candidate.source() + ": tensor '" + name + "' has shape "
                        + Arrays.toString(c.shape()) + " but base " + base.source() + " has " + Arrays.toString(b.shape()));
            }
            if (b.dtype().isMergeable() != c.dtype().isMergeable()) {
                throw new CheckpointMismatchException("candidate " + candidate.source() + ": tensor '" + name + "' has dtype "
                        + c.dtype() + " but base " + base.source() + " has " + b.dtype()
                        + "; a tensor is merged (a floating type) or passed through (any other) in every checkpoint alike");
            }
        }
        if (candidate.names().size() != base.names().size()) {
            List<String> extra = new ArrayList<>(candidate.names());
            extra.removeAll(base.names());
            throw new CheckpointMismatchException("candidate " + candidate.source() + " has tensor '" + extra.get(0)
                    + "' of shape " + Arrays.toString(candidate.info(extra.get(0)).shape()) + " that base "
                    + base.source() + " lacks");
        }
    }

    /** The base (pre-trained) model θ₀. */
    public Checkpoint base() {
        return base;
    }

    /** The candidates θ₁…θₙ, in the order given. */
    public List<Checkpoint> candidates() {
        return candidates;
    }

    /** Number of candidates n (the base not counted). */
    public int size() {
        return candidates.size();
    }

    /**
     * The base's tensors that {@code selection} merges, in base order, each checked to have a mergeable
     * dtype (F32, F64, F16, BF16) in the base and every candidate. Tensors the selection leaves out are
     * not merged and pass through from the base unchanged, whatever their dtype.
     *
     * @throws IllegalArgumentException if the selection matches no tensor, or matches one that cannot be
     *                                  merged (the message names the file, the tensor and its dtype)
     */
    public List<String> select(ParameterSelection selection) {
        Objects.requireNonNull(selection, "selection");
        List<String> names = selection.select(base.names(), base.source());
        List<Checkpoint> all = new ArrayList<>(candidates);
        all.add(0, base);
        for (Checkpoint c : all) {
            for (String name : names) {
                TensorInfo info = c.info(name);
                if (!info.dtype().isMergeable()) {
                    throw new IllegalArgumentException(c.source() + ": tensor '" + name + "' has dtype " + info.dtype()
                            + ", which cannot be merged (F32, F64, F16, BF16 only); leave it out of the parameter"
                            + " selection (it then passes through from the base unchanged)");
                }
            }
        }
        return names;
    }

    /** Every file the pool reads (base and candidates, LoRA adapters and shards included), each once. */
    public List<java.nio.file.Path> files() {
        java.util.LinkedHashSet<java.nio.file.Path> out = new java.util.LinkedHashSet<>(base.files());
        candidates.forEach(c -> out.addAll(c.files()));
        return List.copyOf(out);
    }

    /**
     * A pool over a subset of the candidates (same base), e.g. the first k for a scaling study. It shares
     * this pool's checkpoints without owning them: closing it closes nothing, closing this pool closes them.
     *
     * @throws IndexOutOfBoundsException if an index is not that of a candidate
     * @throws IllegalArgumentException  if {@code indices} is empty
     */
    public ModelPool subset(List<Integer> indices) {
        Objects.requireNonNull(indices, "indices");
        if (indices.isEmpty()) {
            throw new IllegalArgumentException("a subset needs at least one candidate index");
        }
        List<Checkpoint> sub = new ArrayList<>();
        for (int i : indices) {
            sub.add(candidates.get(i));
        }
        return new ModelPool(base, List.copyOf(sub), false);
    }

    /**
     * Closes the base and every candidate, when this pool owns them ({@link #of} and {@link #open} pools
     * do; a {@link #subset} does not).
     */
    @Override
    public void close() {
        if (owner) {
            base.close();
            candidates.forEach(Checkpoint::close);
        }
    }

    @Override
    public String toString() {
        return "ModelPool[base=" + base.source() + ", " + candidates.size() + " candidates]";
    }
}
