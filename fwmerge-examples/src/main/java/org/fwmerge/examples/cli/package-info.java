/**
 * The {@code fwmerge} command-line tool ({@link org.fwmerge.examples.cli.FwmergeCli}), built as the
 * runnable {@code fwmerge-examples/target/fwmerge.jar}.
 */
package org.fwmerge.examples.cli;
