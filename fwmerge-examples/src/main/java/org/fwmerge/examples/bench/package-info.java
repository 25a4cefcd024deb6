/** Benchmark programs that print their figures (never timed unit tests). */
package org.fwmerge.examples.bench;
