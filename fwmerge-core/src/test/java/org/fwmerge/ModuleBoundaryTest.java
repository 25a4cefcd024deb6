package org.fwmerge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module boundary as a user's module meets it: fwmerge-core's compiled module (target/classes,
 * with its module-info) on the module path, and a user module compiled and run against it. The API
 * packages are usable; {@code org.fwmerge.internal} is neither compilable against nor reachable by
 * reflection.
 */
class ModuleBoundaryTest {

    /** The module path: fwmerge-core's classes and the jars of its two dependencies. */
    private static String modulePath() throws Exception {
        return String.join(File.pathSeparator, location(Model.class), location(org.slf4j.Logger.class),
                location(org.apache.commons.math3.util.FastMath.class));
    }

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    @Test
    void descriptor_exportsTheApiPackages_andInternalOnlyToFwmergesOwnModules() throws Exception {
        ModuleDescriptor d = ModuleFinder.of(Path.of(location(Model.class))).find("org.fwmerge.core").orElseThrow()
                .descriptor();
        Map<String, Set<String>> exports = new TreeMap<>();
        for (ModuleDescriptor.Exports e : d.exports()) {
            exports.put(e.source(), new TreeSet<>(e.targets()));
        }
        assertEquals(Map.of("org.fwmerge", Set.of(), "org.fwmerge.baseline", Set.of(), "org.fwmerge.io", Set.of(),
                "org.fwmerge.tensor", Set.of(), "org.fwmerge.testing", Set.of(),
                "org.fwmerge.internal", Set.of("org.fwmerge.examples", "org.fwmerge.nd4j")), exports);
        assertTrue(d.opens().isEmpty() && !d.isOpen(), "nothing is open to reflection");
        assertEquals(Set.of("org.fwmerge.tensor.TensorBackend"), d.uses());
        // Every package of the module is either exported or internal: no API package was forgotten.
        assertEquals(new TreeSet<>(exports.keySet()), new TreeSet<>(d.packages()));
    }

    @Test
    void userModule_compilesAgainstTheApi_butNotAgainstInternal(@TempDir Path dir) throws Exception {
        Path ok = userModule(dir.resolve("ok"), """
                package user;

                import java.util.List;
                import java.util.Map;
                import org.fwmerge.Model;
                import org.fwmerge.ModelPool;
                import org.fwmerge.MergeResult;
                import org.fwmerge.baseline.TaskArithmetic;
                import org.fwmerge.tensor.TensorBackends;

                public class Main {
                    public static void main(String[] args) throws Exception {
                        var b = TensorBackends.reference();
                        Model base = Model.ofArrays("base", b, Map.of("w", new float[] {1, 2}), Map.of());
                        Model task = Model.ofArrays("task", b, Map.of("w", new float[] {3, 2}), Map.of());
                        try (ModelPool pool = ModelPool.of(base, List.of(task));
                                MergeResult r = TaskArithmetic.builder().scaling(0.5).backend(b).build().merge(pool)) {
                            System.out.println("merged " + java.util.Arrays.toString(r.model().values("w")));
                        }
                        try {
                            Class.forName("org.fwmerge.internal.Kernels").getMethod("dot", float[].class, float[].class,
                                    int.class).invoke(null, new float[1], new float[1], 1);
                            System.out.println("internal reachable");
                        } catch (IllegalAccessException e) {
                            System.out.println("internal refused: " + e.getMessage());
                        }
                    }
                }
                """);
        String compiled = compile(ok);
        assertEquals("", compiled, "the API is usable from a module");

        Path bad = userModule(dir.resolve("bad"), """
                package user;

                public class Main {
                    static double use(float[] a) {
                        return org.fwmerge.internal.Kernels.dot(a, a, a.length);
                    }
                }
                """);
        String refused = compile(bad);
        assertTrue(refused.contains("package org.fwmerge.internal is declared in module org.fwmerge.core, which does not"
                + " export it to module user.app"), refused);

        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--module-path",
                modulePath() + File.pathSeparator + ok.resolve("classes"), "-m", "user.app/user.Main")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(1, TimeUnit.MINUTES));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("merged [2.0, 2.0]"), out);
        assertTrue(out.contains("internal refused: ") && out.contains("does not export org.fwmerge.internal to module user.app"),
                out);
    }

    /** Writes a module {@code user.app} requiring org.fwmerge.core, with {@code user/Main.java}. */
    private static Path userModule(Path root, String main) throws Exception {
        Path src = Files.createDirectories(root.resolve("src/user"));
        Files.writeString(root.resolve("src/module-info.java"), "module user.app {\n    requires org.fwmerge.core;\n}\n");
        Files.writeString(src.resolve("Main.java"), main);
        return root;
    }

    /** Compiles the module under {@code root}/src into {@code root}/classes; returns javac's diagnostics. */
    private static String compile(Path root) throws Exception {
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        // An empty class path: javac in this JVM would otherwise see fwmerge's classes on the test class path.
        Path noClassPath = Files.createDirectories(root.resolve("empty"));
        int rc = ToolProvider.getSystemJavaCompiler().run(null, diagnostics, diagnostics, "--module-path", modulePath(),
                "--class-path", noClassPath.toString(),
                "-d", root.resolve("classes").toString(), root.resolve("src/module-info.java").toString(),
                root.resolve("src/user/Main.java").toString());
        String text = diagnostics.toString(StandardCharsets.UTF_8);
        return rc == 0 ? text : "rc " + rc + ": " + text.lines().collect(Collectors.joining(" "));
    }
}
