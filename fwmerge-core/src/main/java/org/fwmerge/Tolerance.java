package org.fwmerge;

/**
 * When Frank-Wolfe stops on its gap (Algorithm 1 line 4): the FW gap bounds ℓ(x_t) − min ℓ for a
 * convex objective, so it is compared with a threshold. An {@linkplain #absolute(double) absolute}
 * threshold ε must be chosen for the loss's scale; a {@linkplain #relative(double) relative} one,
 * gap ≤ r·max(1, |ℓ(x_t)|), follows it — the default, because an absolute 10⁻⁶ is out of reach of a
 * float32 model's loss once it is large or the model has 10⁵ parameters and more.
 */
public final class Tolerance {

    /** Default relative tolerance r: stop when gap ≤ 10⁻⁶·max(1, |ℓ|). */
    public static final double DEFAULT_RELATIVE = 1e-6;

    private final double value;
    private final boolean relative;

    private Tolerance(double value, boolean relative) {
        if (!(value >= 0 && Double.isFinite(value))) {
            throw new IllegalArgumentException((relative ? "relative" : "absolute") + " tolerance must be finite and ≥ 0, got "
                    + value);
        }
        this.value = value;
        this.relative = relative;
    }

    /**
     * Stop when the gap is at most {@code epsilon}.
     *
     * @throws IllegalArgumentException if {@code epsilon} is negative or not finite
     */
    public static Tolerance absolute(double epsilon) {
        return new Tolerance(epsilon, false);
    }

    /**
     * Stop when the gap is at most {@code r}·max(1, |ℓ(x_t)|).
     *
     * @throws IllegalArgumentException if {@code r} is negative or not finite
     */
    public static Tolerance relative(double r) {
        return new Tolerance(r, true);
    }

    /** The relative default, {@value #DEFAULT_RELATIVE}. */
    public static Tolerance defaults() {
        return relative(DEFAULT_RELATIVE);
    }

    /** The largest gap that counts as converged at a point whose loss is {@code loss}. */
    public double threshold(double loss) {
        return relative ? value * Math.max(1, Math.abs(loss)) : value;
    }

    @Override
    public String toString() {
        return (relative ? "relative(" : "absolute(") + value + ")";
    }
}
