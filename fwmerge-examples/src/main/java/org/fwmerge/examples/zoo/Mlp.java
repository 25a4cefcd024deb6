package org.fwmerge.examples.zoo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The MLP of the zoo and its training steps, in SameDiff. Layout: {@code trunk.0.weight} [784,512],
 * {@code trunk.0.bias} [512], {@code trunk.1.weight} [512,256], {@code trunk.1.bias} [256] (weights
 * stored [in, out], so a layer is {@code relu(x · W + b)}), head {@code head.<task>.weight} [256, C],
 * {@code head.<task>.bias} [C]. Freezing is done by making the frozen parameters SameDiff constants, so
 * the updater never sees them.
 */
final class Mlp {

    static final int IN = 784;
    static final int H1 = 512;
    static final int H2 = 256;
    static final String INPUT = "input";
    static final String LABEL = "label";
    static final String LOSS = "loss";
    static final String LOGITS = "logits";
    /** The first hidden layer's activations in {@link #logitsGraph} (the input of {@link #W1}). */
    static final String HIDDEN1 = "h1";
    static final String W0 = "trunk.0.weight";
    static final String B0 = "trunk.0.bias";
    static final String W1 = "trunk.1.weight";
    static final String B1 = "trunk.1.bias";
    static final List<String> TRUNK = List.of(W0, B0, W1, B1);

    private Mlp() {
    }

    static String headWeight(String task) {
        return "head." + task + ".weight";
    }

    static String headBias(String task) {
        return "head." + task + ".bias";
    }

    /** He-initialised trunk (normal, std sqrt(2/fan_in)), zero biases, from {@code seed}. */
    static Map<String, INDArray> initTrunk(long seed) {
        Random rnd = new Random(seed);
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put(W0, he(rnd, IN, H1));
        t.put(B0, Nd4j.zeros(DataType.FLOAT, H1));
        t.put(W1, he(rnd, H1, H2));
        t.put(B1, Nd4j.zeros(DataType.FLOAT, H2));
        return t;
    }

    /** Glorot-like small initial head. */
    static INDArray[] initHead(long seed, int in, int classes) {
        Random rnd = new Random(seed);
        float[] w = new float[in * classes];
        double std = Math.sqrt(1.0 / in);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        return new INDArray[] {Nd4j.create(w, new long[] {in, classes}, 'c'), Nd4j.zeros(DataType.FLOAT, classes)};
    }

    private static INDArray he(Random rnd, int in, int out) {
        float[] w = new float[in * out];
        double std = Math.sqrt(2.0 / in);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        return Nd4j.create(w, new long[] {in, out}, 'c');
    }

    /**
     * The full network as a SameDiff graph: placeholders {@link #INPUT} [-1,784] and {@link #LABEL}
     * [-1,C] (one-hot), loss {@link #LOSS} = mean softmax cross-entropy. Arrays are duplicated.
     */
    static SameDiff graph(Map<String, INDArray> trunk, boolean trunkTrainable, String headName, INDArray headW,
            INDArray headB, boolean headTrainable) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder(INPUT, DataType.FLOAT, -1, IN);
        SDVariable y = sd.placeHolder(LABEL, DataType.FLOAT, -1, headW.size(1));
        SDVariable w0 = param(sd, W0, trunk.get(W0), trunkTrainable);
        SDVariable b0 = param(sd, B0, trunk.get(B0), trunkTrainable);
        SDVariable w1 = param(sd, W1, trunk.get(W1), trunkTrainable);
        SDVariable b1 = param(sd, B1, trunk.get(B1), trunkTrainable);
        SDVariable wh = param(sd, headWeight(headName), headW, headTrainable);
        SDVariable bh = param(sd, headBias(headName), headB, headTrainable);
        SDVariable h1 = sd.nn.relu(x.mmul(w0).add(b0), 0);
        SDVariable h2 = sd.nn.relu(h1.mmul(w1).add(b1), 0);
        SDVariable logits = h2.mmul(wh).add("logits", bh);
        sd.loss.softmaxCrossEntropy(LOSS, y, logits, null);
        sd.setLossVariables(LOSS);
        return sd;
    }

    /**
     * The network up to the logits ({@link #LOGITS}), no loss and no label placeholder: trunk variables,
     * head constants (the form {@code SameDiffObjective} expects); the first hidden layer is named
     * {@link #HIDDEN1}.
     */
    static SameDiff logitsGraph(Map<String, INDArray> trunk, String headName, INDArray headW, INDArray headB) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder(INPUT, DataType.FLOAT, -1, IN);
        SDVariable h1 = sd.nn.relu(HIDDEN1, x.mmul(sd.var(W0, trunk.get(W0).dup())).add(sd.var(B0, trunk.get(B0).dup())), 0);
        SDVariable h2 = sd.nn.relu(h1.mmul(sd.var(W1, trunk.get(W1).dup())).add(sd.var(B1, trunk.get(B1).dup())), 0);
        h2.mmul(sd.constant(headWeight(headName), headW.dup())).add(LOGITS, sd.constant(headBias(headName), headB.dup()));
        return sd;
    }

    /**
     * Several tasks' networks up to the logits in one graph, so that one call evaluates them all: the
     * input {@link #INPUT} [-1, 784 + K] is an image followed by the one-hot index of its task among the
     * K heads; every head is applied to the shared trunk's features and the sample's own head's logits
     * are kept ({@link #LOGITS}, [-1, C]). Trunk variables, head constants; all heads need C classes.
     */
    static SameDiff multiTaskLogitsGraph(Map<String, INDArray> trunk, List<String> headNames, List<INDArray> headWs,
            List<INDArray> headBs) {
        int k = headNames.size();
        int c = (int) headWs.get(0).size(1);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder(INPUT, DataType.FLOAT, -1, IN + k);
        SDVariable x = in.get(SDIndex.all(), SDIndex.interval(0, IN));
        SDVariable task = in.get(SDIndex.all(), SDIndex.interval(IN, IN + k));
        SDVariable h1 = sd.nn.relu(x.mmul(sd.var(W0, trunk.get(W0).dup())).add(sd.var(B0, trunk.get(B0).dup())), 0);
        SDVariable h2 = sd.nn.relu(h1.mmul(sd.var(W1, trunk.get(W1).dup())).add(sd.var(B1, trunk.get(B1).dup())), 0);
        SDVariable all = h2.mmul(sd.constant("heads.weight", Nd4j.hstack(headWs.toArray(new INDArray[0]))))
                .add(sd.constant("heads.bias", Nd4j.hstack(headBs.stream().map(b -> b.reshape(1, c))
                        .toArray(INDArray[]::new)).reshape(k * c)));
        SDVariable perHead = sd.reshape(all, -1, k, c);
        sd.sum(LOGITS, perHead.mul(sd.reshape(task, -1, k, 1)), 1);
        return sd;
    }

    /** LoRA factor variable of a trunk layer (0 or 1), stored [in, r] ("A") and [r, out] ("B"): x·A·B is x·ΔW. */
    static String loraFactor(int layer, char factor) {
        return "lora." + layer + "." + factor;
    }

    /**
     * The full network with the trunk frozen and a rank-{@code rank} LoRA adapter on both trunk weights:
     * layer l computes relu(x·W_l + scaling·(x·A_l)·B_l + b_l), A_l [in, r] drawn from N(0, 1/in) and B_l
     * [r, out] zero (so training starts at the pre-trained network, as PEFT's LoRA does). Only the factors
     * are variables; placeholders and loss as in {@link #graph}.
     */
    static SameDiff loraGraph(Map<String, INDArray> trunk, int rank, double scaling, long seed, String headName,
            INDArray headW, INDArray headB) {
        Random rnd = new Random(seed);
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder(INPUT, DataType.FLOAT, -1, IN);
        SDVariable y = sd.placeHolder(LABEL, DataType.FLOAT, -1, headW.size(1));
        SDVariable h = x;
        int[][] dims = {{IN, H1}, {H1, H2}};
        for (int l = 0; l < 2; l++) {
            float[] a = new float[dims[l][0] * rank];
            double std = Math.sqrt(1.0 / dims[l][0]);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rnd.nextGaussian() * std);
            }
            SDVariable av = sd.var(loraFactor(l, 'A'), Nd4j.create(a, new long[] {dims[l][0], rank}, 'c'));
            SDVariable bv = sd.var(loraFactor(l, 'B'), Nd4j.zeros(DataType.FLOAT, rank, dims[l][1]));
            SDVariable w = sd.constant(TRUNK.get(2 * l), trunk.get(TRUNK.get(2 * l)).dup());
            SDVariable b = sd.constant(TRUNK.get(2 * l + 1), trunk.get(TRUNK.get(2 * l + 1)).dup());
            h = sd.nn.relu(h.mmul(w).add(h.mmul(av).mmul(bv).mul(scaling)).add(b), 0);
        }
        SDVariable logits = h.mmul(sd.constant(headWeight(headName), headW.dup()))
                .add("logits", sd.constant(headBias(headName), headB.dup()));
        sd.loss.softmaxCrossEntropy(LOSS, y, logits, null);
        sd.setLossVariables(LOSS);
        return sd;
    }

    /** A linear softmax classifier on fixed features: placeholders {@link #INPUT} [-1,in], {@link #LABEL}. */
    static SameDiff headGraph(String headName, INDArray headW, INDArray headB) {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder(INPUT, DataType.FLOAT, -1, headW.size(0));
        SDVariable y = sd.placeHolder(LABEL, DataType.FLOAT, -1, headW.size(1));
        SDVariable wh = sd.var(headWeight(headName), headW.dup());
        SDVariable bh = sd.var(headBias(headName), headB.dup());
        SDVariable logits = x.mmul(wh).add("logits", bh);
        sd.loss.softmaxCrossEntropy(LOSS, y, logits, null);
        sd.setLossVariables(LOSS);
        return sd;
    }

    private static SDVariable param(SameDiff sd, String name, INDArray value, boolean trainable) {
        return trainable ? sd.var(name, value.dup()) : sd.constant(name, value.dup());
    }

    /** Per-epoch callback: epoch index (from 1) and mean training loss of that epoch. */
    interface EpochListener {
        void epochDone(int epoch, double meanLoss);
    }

    /**
     * Trains the graph's variables with Adam on minibatches, the data reshuffled every epoch with a
     * seeded order.
     */
    static void fit(SameDiff sd, INDArray x, INDArray yOneHot, int epochs, int batch, double lr, long seed,
            EpochListener listener) {
        sd.setTrainingConfig(TrainingConfig.builder()
                .updater(new Adam(lr))
                .dataSetFeatureMapping(INPUT)
                .dataSetLabelMapping(LABEL)
                .build());
        Random rnd = new Random(seed);
        long n = x.size(0);
        for (int e = 1; e <= epochs; e++) {
            int[] order = permutation((int) n, rnd);
            INDArray xs = Nd4j.pullRows(x, 1, order);
            INDArray ys = Nd4j.pullRows(yOneHot, 1, order);
            sd.fit(new ViewIterator(new DataSet(xs, ys), batch), 1);
            // The loss curve of fit's History is empty without listeners; a forward pass on a slice is cheap.
            long m = Math.min(n, 1024);
            INDArray loss = sd.output(Map.of(INPUT, xs.get(NDArrayIndex.interval(0, m), NDArrayIndex.all()),
                    LABEL, ys.get(NDArrayIndex.interval(0, m), NDArrayIndex.all())), LOSS).get(LOSS);
            listener.epochDone(e, loss.getDouble(0));
        }
    }

    private static int[] permutation(int n, Random rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Trunk features relu(relu(x·W0+b0)·W1+b1), [N,256]. */
    static INDArray features(Map<String, INDArray> trunk, INDArray x) {
        INDArray h1 = Transforms.relu(x.mmul(trunk.get(W0)).addiRowVector(trunk.get(B0)), false);
        return Transforms.relu(h1.mmul(trunk.get(W1)).addiRowVector(trunk.get(B1)), false);
    }

    /** Fraction of rows whose arg-max logit equals the label. */
    static double accuracy(INDArray features, INDArray headW, INDArray headB, int[] labels) {
        INDArray logits = features.mmul(headW).addiRowVector(headB);
        INDArray pred = logits.argMax(1);
        int correct = 0;
        for (int i = 0; i < labels.length; i++) {
            if (pred.getInt(i) == labels[i]) {
                correct++;
            }
        }
        return correct / (double) labels.length;
    }

    static INDArray oneHot(int[] labels, int classes) {
        float[] y = new float[labels.length * classes];
        for (int i = 0; i < labels.length; i++) {
            y[i * classes + labels[i]] = 1f;
        }
        return Nd4j.create(y, new long[] {labels.length, classes}, 'c');
    }
}
