import Foundation
import KubeCore
import KubeTestSupport
import Rendering
import Sizing
import TandemAPI
import TandemOperator

/// What a run has seen so far.
struct Tally {
    /// Cases whose pool planned with no problem.
    var plans = 0
    /// Cases whose plan carried a typed problem (a `SizingValid=False` condition).
    var failures = 0
    /// Cases whose spec failed validation (`InvalidSpec` before planning).
    var invalid = 0
    /// Direct ``TierSizer`` calls that sized, or threw a ``SizingFailure``.
    var sizings = 0
    var sizingFailures = 0
    /// Direct calls whose flags ``EngineArgs`` refused.
    var argsRefused = 0
    /// Quantities parsed and put through their arithmetic.
    var quantities = 0
    /// Plan problem reasons, counted.
    var reasons: [String: Int] = [:]
    /// Results that broke a rule (not traps: those end the process).
    var inconsistencies: [String] = []
}

/// One seeded case: a random pool with hostile numbers, and a direct sizing call and quantity.
enum FuzzCase {
    /// The seed of case `index` of the run seeded `run` (so a case re-runs alone).
    static func caseSeed(run: UInt64, index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: run ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        return mixer.next()
    }

    /// The pool of the case seeded `seed`.
    static func pool(seed: UInt64) -> InferencePool {
        var rng = SplitMix64(seed: seed)
        return Generator.pool(&rng)
    }

    /// Runs the case: validation, planning, rendering, status; then a direct sizing call and
    /// a quantity. Returns `plan`, `failure <Reason>` or `invalid`.
    static func run(seed: UInt64, tally: inout Tally) -> String {
        var rng = SplitMix64(seed: seed)
        let pool = Generator.pool(&rng)
        let spec = pool.spec ?? InferencePoolSpec(model: "")
        let outcome: String
        let now = KubeTime(Date(timeIntervalSince1970: 1_700_000_000))
        let deployments = Generator.deployments(&rng)
        let errors = spec.validate()
        if !errors.isEmpty {
            tally.invalid += 1
            outcome = "invalid"
            let status = PoolStatusBuilder.status(
                pool: pool, previous: nil, invalid: errors, plan: nil, deployments: deployments, now: now)
            if status.conditions?[type: PoolCondition.sizingValid]?.reason != "InvalidSpec" {
                tally.inconsistencies.append("seed \(seed): invalid spec without SizingValid=InvalidSpec")
            }
        } else {
            let plan = PoolPlanner().plan(pool)
            if let problem = plan.problems.first {
                tally.failures += 1
                outcome = "failure \(problem.reason)"
                for problem in plan.problems { tally.reasons[problem.reason, default: 0] += 1 }
                if problem.reason == "InvalidSpec", !(problem.message.contains("out of range") && problem.message.contains("spec.")) {
                    tally.inconsistencies.append("seed \(seed): InvalidSpec without field and range: \(problem.message)")
                }
            } else {
                tally.plans += 1
                outcome = "plan"
            }
            do {
                _ = try Renderer.render(pool: pool, plans: plan.plans, owner: nil, router: plan.routerPlan)
            } catch {
                tally.inconsistencies.append("seed \(seed): rendering threw \(error)")
            }
            let router: RouterState = switch plan.router {
            case nil: .absent
            case .failure(let problem)?: .refused(problem)
            case .success?: .deployed(endpointPicker: deployments[.decode], gatewayPool: "gie", threshold: spec.scheduler?.threshold ?? 100)
            }
            let status = PoolStatusBuilder.status(
                pool: pool, previous: nil, invalid: [], plan: plan, deployments: deployments, router: router, now: now)
            let sizingValid = status.conditions?[type: PoolCondition.sizingValid]
            if let problem = plan.problems.first, sizingValid?.status != .false || sizingValid?.reason != problem.reason {
                tally.inconsistencies.append("seed \(seed): problem \(problem.reason) but SizingValid \(String(describing: sizingValid))")
            }
            if plan.problems.isEmpty, sizingValid?.status != .true {
                tally.inconsistencies.append("seed \(seed): a plan but SizingValid \(String(describing: sizingValid))")
            }
        }
        sizeDirectly(&rng, seed: seed, tally: &tally)
        exerciseQuantity(&rng, tally: &tally)
        return outcome
    }

    /// `tandem size`'s path: EngineArgs, then TierSizer, with any catalog or hostile profile.
    static func sizeDirectly(_ rng: inout SplitMix64, seed: UInt64, tally: inout Tally) {
        let tokens = Generator.vllmArgs(&rng)
        let args: EngineArgs
        do {
            args = try EngineArgs(tokens)
        } catch {
            tally.argsRefused += 1
            _ = error.description
            return
        }
        let model: ModelProfile = rng.chance(0.5)
            ? ModelCatalog.builtIn.models.randomElement(using: &rng)!
            : ModelProfile(
                id: "fuzz/model", parameters: Generator.int(&rng), unquantizedParameters: Generator.int(&rng),
                layers: Generator.int(&rng), attentionHeads: Generator.int(&rng), kvHeads: Generator.int(&rng),
                headDim: Generator.int(&rng), hiddenSize: Generator.int(&rng), maxContextLength: Generator.int(&rng),
                weightsDType: [DType.bfloat16, .fp8, .int4, .float32].randomElement(using: &rng)!,
                attention: rng.chance(0.2) ? .multiHeadLatent(kvLoraRank: Generator.int(&rng), ropeHeadDim: Generator.int(&rng)) : .standard,
                slidingWindow: rng.chance(0.2) ? ModelProfile.SlidingWindow(layers: Generator.int(&rng), window: Generator.int(&rng)) : nil)
        let accelerator = rng.chance(0.8) ? AcceleratorCatalog.builtIn.accelerators.randomElement(using: &rng) : nil
        let request = TierSizingRequest(
            tier: rng.chance(0.5) ? .prefill : .decode, model: model, accelerator: accelerator,
            explicitDevices: rng.chance(0.4) ? Generator.int(&rng) : nil, args: args)
        do {
            let sizing = try TierSizer().size(request)
            tally.sizings += 1
            _ = sizing.report()
            // The status keeps these as int32 (PoolStatusBuilder converts them with Int32(_:)).
            for (name, value) in [("devices", sizing.devices.value), ("tensorParallelSize", sizing.tensorParallelSize.value),
                                  ("maxModelLen", sizing.maxModelLen.value)] where Int32(exactly: value) == nil {
                tally.inconsistencies.append("seed \(seed): sized \(name) \(value) does not fit int32")
            }
        } catch {
            tally.sizingFailures += 1
            _ = error.report()
        }
    }

    /// Parses a quantity and puts it through the arithmetic the planner and status use.
    static func exerciseQuantity(_ rng: inout SplitMix64, tally: inout Tally) {
        guard let quantity = Quantity(Generator.quantityText(&rng)) else { return }
        tally.quantities += 1
        let other = Quantity(Generator.quantityText(&rng)) ?? Quantity(1)
        let factor = Generator.int(&rng)
        _ = (quantity.int64Value, quantity.milliValue, quantity.canonical, quantity.doubleValue, quantity.description)
        _ = (quantity + other).canonical
        _ = (quantity - other).canonical
        _ = (quantity * factor).int64Value
        _ = (quantity * factor).milliValue
        _ = quantity < other
        _ = quantity.hashValue
        if let data = try? JSONEncoder().encode(quantity) { _ = try? JSONDecoder().decode(Quantity.self, from: data) }
    }
}

extension SplitMix64 {
    mutating func chance(_ probability: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < probability }
    mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }
}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}

/// Hostile numbers and the pools that carry them.
enum Generator {
    /// An integer from the edges: small, near the Int32 and Int64 limits, powers of two ± 1,
    /// zero and negatives.
    static func int(_ rng: inout SplitMix64) -> Int {
        switch rng.next() % 8 {
        case 0, 1: return Int(rng.next() % 200) + 1
        case 2: return Int(Int32.max) + Int(rng.next() % 7) - 3
        case 3: return Int.max - Int(rng.next() % 4)
        case 4: return rng.pick([0, -1, Int(Int32.min), Int.min, Int.min + 1])
        case 5:
            let power = Int(rng.next() % 62) + 1
            return (1 << power) + Int(rng.next() % 3) - 1
        case 6: return Int(rng.next() % 1_000_000) + 1
        default: return Int(truncatingIfNeeded: rng.next())
        }
    }

    static func int32(_ rng: inout SplitMix64) -> Int32 {
        switch rng.next() % 6 {
        case 0, 1: return Int32(rng.next() % 16)
        case 2: return Int32.max - Int32(rng.next() % 3)
        case 3: return rng.pick([Int32.min, -1, 0, 10_000, 10_001, 1_024, 1_025, 4_096, 4_097])
        case 4: return Int32(truncatingIfNeeded: Int(rng.next() % 100_000))
        default: return Int32(truncatingIfNeeded: rng.next())
        }
    }

    static func int64(_ rng: inout SplitMix64) -> Int64 {
        rng.chance(0.5) ? Int64(int(&rng)) : rng.pick([Int64.max, Int64.min, 1, 0, -1, 8_000_000_000, 1_000_000_000_000_001])
    }

    /// A value spread evenly over the powers of two in `1...upper` (log-uniform): in range,
    /// but often large enough for products of them to overflow.
    static func logUniform(_ rng: inout SplitMix64, upTo upper: Int) -> Int {
        let bits = Int(rng.next() % UInt64(Int.bitWidth - upper.leadingZeroBitCount)) + 1
        let ceiling = bits >= Int.bitWidth - 1 ? upper : min(upper, (1 << bits) - 1)
        return Int(rng.next() % UInt64(ceiling)) + 1
    }

    /// A tame Int32: what the CRD admits, small or at its bounds.
    static func tameInt32(_ rng: inout SplitMix64, upTo upper: Int32 = 10_000) -> Int32 {
        rng.chance(0.7) ? Int32(rng.next() % 9) : Int32(logUniform(&rng, upTo: Int(upper)))
    }

    /// Text for a numeric vLLM flag: plain, beyond Int64, suffixed (k/m/g ×1000, K/M/G ×1024), odd.
    static func numberText(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.45) { return String(logUniform(&rng, upTo: Int(Int32.max))) }
        switch rng.next() % 8 {
        case 0: return String(rng.next() % 100_000 + 1)
        case 1: return String(Int(Int32.max) + Int(rng.next() % 7) - 3)
        case 2: return rng.pick(["9223372036854775807", "9223372036854775806", "9223372036854775808",
                                 "18446744073709551615", "-9223372036854775808", "200000000000000"])
        case 3:
            let count = Int(rng.next() % 30) + 19
            return (0..<count).map { _ in String(rng.next() % 10) }.joined()
        case 4:
            let base = rng.pick(["1", "32", "25.6", "0.5", "2147483647", "9007199254740993", "8589934592",
                                 "9223372036854775807", "99999999999999999999", "1" + String(repeating: "0", count: 400), "0", "-4"])
            return base + rng.pick(["k", "m", "g", "K", "M", "G"])
        case 5: return rng.pick(["", "0", "-1", "+7", "1e5", "nan", "inf", "0x10", "1_000", " 5", "１２", "٣", "1.5", "."])
        case 6: return String(1 << Int(rng.next() % 63))
        default: return String(Int(truncatingIfNeeded: rng.next()))
        }
    }

    static let numericFlags = ["--max-num-batched-tokens", "--max-num-seqs", "--max-model-len", "--max_model_len",
                               "--tensor-parallel-size", "-tp", "--pipeline-parallel-size", "--block-size"]

    /// vLLM arguments: mostly numeric flags with hostile values, some others.
    static func vllmArgs(_ rng: inout SplitMix64) -> [String] {
        var tokens: [String] = []
        for _ in 0..<Int(rng.next() % 5) {
            let value: String
            let flag: String
            switch rng.next() % 10 {
            case 0:
                flag = "--gpu-memory-utilization"
                value = rng.pick(["0.9", "1", "1e-300", "0.0000001", "1e308", "nan", "-0.5", "0.95"])
            case 1:
                flag = rng.pick(["--kv-cache-dtype", "--dtype", "--quantization"])
                value = rng.pick(["fp8", "auto", "bfloat16", "awq", "half"])
            case 2:
                tokens.append(rng.pick(["--enforce-eager", "--disable-log-requests", "--trust-remote-code"]))
                continue
            default:
                flag = rng.pick(numericFlags)
                value = numberText(&rng)
            }
            if rng.chance(0.7) { tokens.append("\(flag)=\(value)") } else { tokens += [flag, value] }
        }
        return tokens
    }

    /// A quantity's text: device counts, huge and odd memory sizes, exponents up to the limit.
    static func quantityText(_ rng: inout SplitMix64) -> String {
        switch rng.next() % 5 {
        case 0: return rng.pick(["1", "2", "8", "0", "-1", "1.5", "2147483647", "2147483648", "9223372036854775807",
                                 "9223372036854775808", "18446744073709551616"])
        case 1: return rng.pick(["1e18", "1e19", "1e100", "1e101", "9e99", "1E-100", "1e-9", "0.0000000001", "123e-7"])
        case 2: return rng.pick(["64Gi", "8Ei", "9999999999Ei", "99999999999999999999999999999999999999E",
                                 "99999999999999999999999999999999999999Ei", "500m", "1n", "1.000000000000000000001Ki"])
        case 3: return numberText(&rng) + rng.pick(["", "Gi", "Ei", "m", "E", "e18", "e100", "Pi", "k"])
        default: return String(Int(truncatingIfNeeded: rng.next())) + rng.pick(["", "Mi", "E", "n"])
        }
    }

    static func maybe<T>(_ rng: inout SplitMix64, _ probability: Double = 0.5, _ make: (inout SplitMix64) -> T) -> T? {
        rng.chance(probability) ? make(&rng) : nil
    }

    static func tier(_ rng: inout SplitMix64) -> TierConfig {
        var resources: [String: Quantity] = [:]
        if rng.chance(0.3), let devices = Quantity(rng.chance(0.6) ? rng.pick(["1", "2", "4", "8"]) : quantityText(&rng)) {
            resources[rng.chance(0.9) ? "nvidia.com/gpu" : "amd.com/gpu"] = devices
        }
        if rng.chance(0.2), let memory = Quantity(quantityText(&rng)) { resources["memory"] = memory }
        if rng.chance(0.1), let cpu = Quantity(quantityText(&rng)) { resources["cpu"] = cpu }
        let hostile = rng.chance(0.3)
        let count = { (rng: inout SplitMix64) in hostile ? int32(&rng) : tameInt32(&rng) }
        var autoscaling: AutoscalingSpec?
        if rng.chance(0.4) {
            let rules = { (rng: inout SplitMix64) in
                ScalingRules(stabilizationSeconds: maybe(&rng, 0.5, count), maxReplicasPerStep: maybe(&rng, 0.5, count),
                             periodSeconds: maybe(&rng, 0.5, count))
            }
            autoscaling = AutoscalingSpec(
                mode: rng.pick([nil, .disabled, .operator, .external]), minReplicas: maybe(&rng, 0.6, count),
                maxReplicas: maybe(&rng, 0.6, count),
                behavior: rng.chance(0.5) ? ScalingBehavior(scaleUp: maybe(&rng, 0.5, rules), scaleDown: maybe(&rng, 0.5, rules)) : nil)
        }
        return TierConfig(
            replicas: maybe(&rng, 0.7, count), resources: resources.isEmpty ? nil : resources,
            vllmArgs: rng.chance(0.9) ? vllmArgs(&rng) : nil,
            accelerator: rng.chance(0.1) ? rng.pick(["nvidia-h100", "amd-mi300x", "tpu-v9000"]) : nil,
            autoscaling: autoscaling)
    }

    static func pool(_ rng: inout SplitMix64) -> InferencePool {
        let custom = rng.chance(0.35)
        let tameProfile = rng.chance(0.5)
        let profile = custom && tameProfile
            ? ModelProfileSpec(
                parameters: Int64(logUniform(&rng, upTo: 2_000_000_000_000)), layers: tameInt32(&rng, upTo: 1_024) + 1,
                attentionHeads: rng.pick([8, 16, 32, 64, 128, 1_024]), kvHeads: rng.pick([1, 2, 8, 16, 1_024]),
                headDim: tameInt32(&rng, upTo: 4_096) + 1, dtype: rng.pick([nil, "bfloat16", "fp8", "int4"]),
                maxContextLength: maybe(&rng, 0.6) { Int32(logUniform(&$0, upTo: Int(Int32.max))) },
                hiddenSize: maybe(&rng, 0.5) { Int32(logUniform(&$0, upTo: 4_194_304)) })
            : custom
            ? ModelProfileSpec(
                parameters: int64(&rng), layers: int32(&rng), attentionHeads: int32(&rng), kvHeads: int32(&rng),
                headDim: int32(&rng), dtype: rng.pick([nil, "bfloat16", "fp8", "int4", "float32", "q2"]),
                maxContextLength: maybe(&rng, 0.6, int32), hiddenSize: maybe(&rng, 0.5, int32))
            : nil
        let model = custom ? "fuzz/custom-model" : rng.pick(ModelCatalog.builtIn.models.map(\.id) + ["unknown/model"])
        let spec = InferencePoolSpec(
            model: model,
            accelerator: rng.chance(0.8) ? rng.pick(AcceleratorCatalog.builtIn.accelerators.map(\.name) + ["tpu-v9000"]) : nil,
            image: rng.chance(0.2) ? rng.pick(["vllm/vllm-openai:v0.12.0", "registry.example/vllm:rocm"]) : nil,
            modelProfile: profile, prefillConfig: tier(&rng), decodeConfig: tier(&rng),
            scheduler: rng.chance(0.3) ? SchedulerSpec(disaggregationThreshold: maybe(&rng, 0.7, int32)) : nil,
            kvTransfer: rng.chance(0.2) ? KVTransferSpec(connector: rng.pick(["NixlConnector", "MooncakeConnector"])) : nil)
        var metadata = ObjectMeta(name: "fuzz", namespace: "default")
        metadata.generation = int64(&rng)
        return InferencePool(metadata: metadata, spec: spec)
    }

    /// The tiers' Deployments as the status builder would see them, counts near the limits.
    static func deployments(_ rng: inout SplitMix64) -> [TierName: Deployment] {
        var result: [TierName: Deployment] = [:]
        for tier in TierName.allCases where rng.chance(0.6) {
            var metadata = ObjectMeta(name: "fuzz-\(tier.rawValue)")
            metadata.generation = int64(&rng)
            result[tier] = Deployment(
                metadata: metadata, spec: DeploymentSpec(replicas: maybe(&rng, 0.8, int32)),
                status: DeploymentStatus(
                    observedGeneration: maybe(&rng, 0.8, int64), replicas: maybe(&rng, 0.8, int32),
                    updatedReplicas: maybe(&rng, 0.8, int32), readyReplicas: maybe(&rng, 0.8, int32)))
        }
        return result
    }
}
