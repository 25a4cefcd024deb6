/**
 * The classic merging baselines FW-Merging is compared with (the paper's Table 2): {@link org.fwmerge.baseline.WeightAveraging},
 * {@link org.fwmerge.baseline.TaskArithmetic}, {@link org.fwmerge.baseline.Ties},
 * {@link org.fwmerge.baseline.Dare}, {@link org.fwmerge.baseline.AdaMerging} and
 * {@link org.fwmerge.baseline.FisherMerging}. Each is an immutable, thread-safe {@link org.fwmerge.Merger}
 * made by a builder ({@code TaskArithmetic.builder().scaling(0.3).build()}); any of them can be a
 * Frank-Wolfe starting point through {@link org.fwmerge.InitialPoint#from(org.fwmerge.Merger)}, and TIES
 * and DARE are also available as FW-hard merge functions ({@link org.fwmerge.baseline.Ties#mergeFn()},
 * {@link org.fwmerge.baseline.Dare#mergeFn(double, long)}).
 *
 * <p>Defaults follow FusionBench (tanganke/fusion_bench), the benchmark the FW-Merging paper used.
 * The task vector of candidate i is τ_i = θ_i − θ₀ (θ₀ the pool's base). Every method reads the pool
 * tensor by tensor and element-wise work moves values through fixed-size chunks, so memory does not
 * grow with the number of candidates (except {@link org.fwmerge.baseline.AdaMerging} with resident
 * directions, which trades memory for speed); each class states its memory class.
 */
package org.fwmerge.baseline;
