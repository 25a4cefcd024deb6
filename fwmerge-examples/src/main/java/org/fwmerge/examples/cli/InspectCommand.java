package org.fwmerge.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.Safetensors;
import org.fwmerge.io.TensorInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code fwmerge inspect PATH [--base BASE]}: validates a checkpoint and lists its tensors. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Validate a checkpoint (safetensors file, sharded directory, or LoRA adapter directory with"
                + " --base) and list its tensors, metadata and totals.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PATH", description = "a .safetensors file, a checkpoint directory,"
            + " or a PEFT LoRA adapter directory")
    Path path;

    @Option(names = "--base", paramLabel = "BASE", description = "base checkpoint the LoRA adapter applies to")
    Path base;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        boolean adapter = Files.isDirectory(path) && Files.exists(path.resolve("adapter_config.json"));
        if (adapter && base == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    path + " is a LoRA adapter directory: give its base model with --base");
        }
        if (base != null && !adapter) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--base applies to a LoRA adapter directory, and " + path + " is not one");
        }
        try (Checkpoint b = base == null ? null : Safetensors.open(base);
                Checkpoint c = b == null ? Safetensors.open(path) : Safetensors.openAdapter(b, path)) {
            print(c, out);
        }
        return 0;
    }

    private static void print(Checkpoint c, PrintWriter out) {
        out.println("checkpoint: " + c.source());
        int width = 4;
        for (String n : c.names()) {
            width = Math.max(width, n.length());
        }
        String row = "%-" + width + "s  %-7s  %-20s  %14s%n";
        out.printf(row, "name", "dtype", "shape", "bytes");
        long bytes = 0;
        long params = 0;
        int mergeable = 0;
        for (String n : c.names()) {
            TensorInfo t = c.info(n);
            out.printf(row, n, t.dtype(), Arrays.toString(t.shape()), t.byteSize());
            bytes += t.byteSize();
            params += t.size();
            mergeable += t.dtype().isMergeable() ? 1 : 0;
        }
        Map<String, String> meta = c.metadata();
        out.println("metadata:" + (meta.isEmpty() ? " (none)" : ""));
        meta.forEach((k, v) -> out.println("  " + k + " = " + v));
        out.println("total: " + c.names().size() + " tensors (" + mergeable + " mergeable), " + params
                + " parameters, " + bytes + " bytes");
        out.println("valid");
    }
}
