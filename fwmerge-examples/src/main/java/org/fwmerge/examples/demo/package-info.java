/** The end-to-end demo: a real-data model zoo and small-scale replicas of the paper's experiments. */
package org.fwmerge.examples.demo;
