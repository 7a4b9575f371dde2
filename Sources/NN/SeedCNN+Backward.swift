import Kernels

extension SeedCNN {
    /// Forward + soft-target cross-entropy + backward on NCHW `input [batch, C, S, S]` and
    /// `targets [batch, classes]`. Gradients are overwritten (not accumulated) in the
    /// gradient buffer; returns the mean loss. Call an optimiser afterwards (or use
    /// `trainStep(input:targets:batch:optimizer:)`).
    @discardableResult
    public func trainStep(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int) -> Float {
        let ws = trainingWorkspace(B)
        forward(ws, input: input, batch: B)
        let K = config.classes, Hd = config.hidden
        let loss = timed("loss") {
            SoftTargetCrossEntropy.forward(logits: ws.logits, targets: targets, batch: B, classes: K,
                                           dLogits: ws.dLogits!)
        }
        let last = convs.count - 1
        timed("fc") {
            fc2.backward(ws.hidden, weight: params + fc2Weight, dOutput: ws.dLogits!,
                         dWeight: grads + fc2Weight, dBias: grads + fc2Bias, dInput: ws.dHidden!, batch: B)
            ReLU.backward(output: ws.hidden, dOutput: ws.dHidden!, dInput: ws.dHidden!, count: B * Hd)
            fc1.backward(ws.fcIn, weight: params + fc1Weight, dOutput: ws.dHidden!,
                         dWeight: grads + fc1Weight, dBias: grads + fc1Bias, dInput: ws.dFcIn!, batch: B)
            // dPooled_last[C, B, s·s] ← dFcIn[B, C·s·s]
            let C = config.widths.last!, ss = config.finalSide * config.finalSide, F = C * ss
            let dst0 = ws.dPooled[last], src0 = ws.dFcIn!
            for c in 0..<C {
                for b in 0..<B {
                    let src = src0 + b * F + c * ss
                    let dst = dst0 + (c * B + b) * ss
                    for s in 0..<ss { dst[s] = src[s] }
                }
            }
        }
        for i in stride(from: last, through: 0, by: -1) {
            let conv = convs[i]
            let S = side(i)
            if usesWinograd[i] {
                let block = WinogradConvBlock(inChannels: conv.inChannels, outChannels: conv.outChannels)
                timed("conv\(i).winogradBack") {
                    block.backward(dOutput: ws.dPooled[i], output: ws.pooled[i], argmax: ws.argmax[i], batch: B, size: S,
                                   u: ws.u[i]!, v: ws.v[i]!, m: ws.m!, du: ws.du!,
                                   dWeight: grads + convWeight(i), dBias: grads + convBias(i),
                                   dInput: i > 0 ? ws.dPooled[i - 1] : nil)
                }
                continue
            }
            let g = conv.geometry(batch: B, height: S, width: S, layout: i == 0 ? .nchw : .cnhw)
            // dConv[Cout, B·S·S] (in convOut) and dBias from the pooled gradient.
            timed("conv\(i).poolBack") {
                BiasReLUMaxPool.backward(dOutput: ws.dPooled[i], output: ws.pooled[i], argmax: ws.argmax[i],
                                         channels: conv.outChannels, planesPerChannel: B, height: S, width: S,
                                         dInput: ws.convOut, dBias: grads + convBias(i))
            }
            // dW = dConv × colᵀ
            timed("conv\(i).gemmW") {
                sgemm(transB: true, m: conv.outChannels, n: g.colRows, k: g.colColumns,
                      a: ws.convOut, b: ws.cols[i], c: grads + convWeight(i))
            }
            if i > 0 {
                // dCol = Wᵀ × dConv;  dPooled[i-1] = col2im(dCol)
                timed("conv\(i).gemmX") {
                    sgemm(transA: true, m: g.colRows, n: g.colColumns, k: conv.outChannels,
                          a: params + convWeight(i), b: ws.convOut, c: ws.dCol!)
                }
                timed("conv\(i).col2im") { col2im(g, col: ws.dCol!, output: ws.dPooled[i - 1]) }
            }
        }
        return loss
    }

    /// `trainStep` followed by one optimiser update; returns the mean loss.
    @discardableResult
    public func trainStep(input: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          optimizer: inout Adam) -> Float {
        let loss = trainStep(input: input, targets: targets, batch: batch)
        timed("adam") { optimizer.step(self) }
        return loss
    }
}
