import Kernels

extension SeedCNN {
    /// A training workspace holding at least `batch` samples (grown on demand).
    func trainingWorkspace(_ batch: Int) -> Workspace {
        if let ws = trainWorkspace, ws.capacity >= batch { return ws }
        trainWorkspace = nil  // free the old one before allocating the new one
        let ws = Workspace(config: config, capacity: batch, training: true, winograd: usesWinograd)
        trainWorkspace = ws
        return ws
    }

    func inferenceWorkspaceForChunk() -> Workspace {
        let cap = max(1, inferenceChunk)
        if let ws = inferenceWorkspace, ws.capacity >= cap { return ws }
        inferenceWorkspace = nil
        let ws = Workspace(config: config, capacity: cap, training: false, winograd: usesWinograd)
        inferenceWorkspace = ws
        return ws
    }

    /// Forward pass of `B ≤ ws.capacity` NCHW images; leaves every activation in `ws`
    /// and the logits `[B, classes]` in `ws.logits`.
    func forward(_ ws: Workspace, input: UnsafePointer<Float>, batch B: Int) {
        precondition(B >= 1 && B <= ws.capacity)
        var x = input
        for (i, conv) in convs.enumerated() {
            let S = side(i)
            if usesWinograd[i] {
                let block = WinogradConvBlock(inChannels: conv.inChannels, outChannels: conv.outChannels)
                timed("conv\(i).winograd") {
                    block.forward(input: x, batch: B, size: S, weight: params + convWeight(i), bias: params + convBias(i),
                                  u: ws.u[i]!, v: ws.v[i]!, m: ws.m!, output: ws.pooled[i], argmax: ws.argmax[i])
                }
                x = UnsafePointer(ws.pooled[i])
                continue
            }
            let g = conv.geometry(batch: B, height: S, width: S, layout: i == 0 ? .nchw : .cnhw)
            // convOut[Cout, B·S·S] = W[Cout, Cin·9] × col[Cin·9, B·S·S]   (bias added after pooling)
            timed("conv\(i).im2col") { im2col(g, input: x, col: ws.cols[i]) }
            timed("conv\(i).gemm") {
                sgemm(m: conv.outChannels, n: g.colColumns, k: g.colRows,
                      a: params + convWeight(i), b: ws.cols[i], c: ws.convOut)
            }
            // pooled[Cout, B, S/2, S/2] = relu(maxpool(convOut) + bias)
            timed("conv\(i).pool") {
                BiasReLUMaxPool.forward(ws.convOut, bias: params + convBias(i),
                                        channels: conv.outChannels, planesPerChannel: B, height: S, width: S,
                                        output: ws.pooled[i], argmax: ws.argmax[i])
            }
            x = UnsafePointer(ws.pooled[i])
        }
        timed("fc") {
            // fcIn[B, C·s·s] ← pooled_last[C, B, s·s]  (PyTorch flatten order)
            let C = config.widths.last!, ss = config.finalSide * config.finalSide
            let F = C * ss
            let last = ws.pooled[convs.count - 1]
            for c in 0..<C {
                for b in 0..<B {
                    let src = last + (c * B + b) * ss
                    let dst = ws.fcIn + b * F + c * ss
                    for s in 0..<ss { dst[s] = src[s] }
                }
            }
            // hidden[B, H] = relu(fcIn · W1ᵀ + b1);  logits[B, K] = hidden · W2ᵀ + b2
            fc1.forward(ws.fcIn, weight: params + fc1Weight, bias: params + fc1Bias, output: ws.hidden, batch: B)
            ReLU.forward(ws.hidden, ws.hidden, count: B * config.hidden)
            fc2.forward(ws.hidden, weight: params + fc2Weight, bias: params + fc2Bias, output: ws.logits, batch: B)
        }
    }

    /// Logits `[batch, classes]` for NCHW `input` (inference; any batch size, processed
    /// in chunks of `inferenceChunk`).
    public func logits(input: UnsafePointer<Float>, batch: Int) -> [Float] {
        let K = config.classes, per = config.inputCount
        var out = [Float](repeating: 0, count: batch * K)
        let ws = inferenceWorkspaceForChunk()
        out.withUnsafeMutableBufferPointer { ob in
            var start = 0
            while start < batch {
                let n = min(ws.capacity, batch - start)
                forward(ws, input: input + start * per, batch: n)
                (ob.baseAddress! + start * K).update(from: ws.logits, count: n * K)
                start += n
            }
        }
        return out
    }

    /// Soft-target cross-entropy summed over the batch, and the number of samples whose
    /// predicted class equals the argmax of their target row (inference, chunked).
    public func evaluate(input: UnsafePointer<Float>, targets: UnsafePointer<Float>,
                         batch: Int) -> (lossSum: Double, correct: Int) {
        let K = config.classes, per = config.inputCount
        let ws = inferenceWorkspaceForChunk()
        var lossSum = 0.0, correct = 0
        var start = 0
        while start < batch {
            let n = min(ws.capacity, batch - start)
            forward(ws, input: input + start * per, batch: n)
            let r = SoftTargetCrossEntropy.evaluate(logits: ws.logits, targets: targets + start * K,
                                                    batch: n, classes: K)
            lossSum += r.lossSum
            correct += r.correct
            start += n
        }
        return (lossSum, correct)
    }

    /// Mean soft-target cross-entropy of a batch (inference only, no gradients).
    public func loss(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float {
        Float(evaluate(input: input, targets: targets, batch: batch).lossSum / Double(batch))
    }
}
