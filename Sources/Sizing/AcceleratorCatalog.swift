/// The accelerators Tandem knows, looked up by name or inferred from node labels.
public struct AcceleratorCatalog: Sendable, Hashable {
    /// What a set of nodes says about which accelerator a tier would land on.
    public enum Inference: Sendable, Hashable {
        /// Every node carrying accelerator labels identifies this one entry.
        case identified(Accelerator)
        /// Nodes disagree: the catalog names (or `key=value` of unrecognised labels) seen, sorted.
        case ambiguous([String])
        /// Every accelerator node agrees on a device the catalog does not know (`key=value`s).
        case unrecognized([String])
        /// No node carries any label the catalog uses to identify accelerators.
        case none
    }

    /// The entries, each with a unique name.
    public var accelerators: [Accelerator]

    /// A catalog of these entries (``builtIn`` is Tandem's).
    public init(_ accelerators: [Accelerator]) {
        self.accelerators = accelerators
    }

    /// Finds an entry by its name, an alias, or one of its node-label values, case-insensitively
    /// (`nvidia-h200`, `H200`, `nvidia-h200-141gb` and `NVIDIA-H200` all find the H200).
    public func accelerator(named name: String) -> Accelerator? {
        let key = name.trimmingWhitespace().lowercased()
        guard !key.isEmpty else { return nil }
        return accelerators.first { $0.name == key }
            ?? accelerators.first { $0.aliases.contains(key) }
            ?? accelerators.first { $0.nodeLabels.contains { $0.value.lowercased() == key } }
    }

    /// Every label key some entry uses to identify its nodes.
    public var identifyingLabelKeys: Set<String> {
        Set(accelerators.flatMap { $0.nodeLabels.map(\.key) })
    }

    /// Infers the accelerator from the labels of a set of nodes.
    ///
    /// A node counts as an accelerator node when it has any key in ``identifyingLabelKeys``;
    /// other nodes (CPU-only, system pools) are ignored.
    /// - Parameter nodeLabels: each node's `metadata.labels`.
    /// - Returns: the entry when every accelerator node identifies the same one; `.ambiguous`
    ///   when they identify different ones (or one node identifies two); `.unrecognized` when
    ///   they all carry the same label values no entry lists; `.none` when no node has such labels.
    public func inferAccelerator(fromNodeLabels nodeLabels: [[String: String]]) -> Inference {
        let keys = identifyingLabelKeys
        var identities = Set<String>()
        for labels in nodeLabels {
            let present = labels.filter { keys.contains($0.key) }
            guard !present.isEmpty else { continue }
            let matched = accelerators.filter { entry in
                entry.nodeLabels.contains { labels[$0.key] == $0.value }
            }
            if matched.isEmpty {
                identities.insert(present.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","))
            } else {
                identities.formUnion(matched.map(\.name))
            }
        }
        guard !identities.isEmpty else { return .none }
        let sorted = identities.sorted()
        if sorted.count > 1 { return .ambiguous(sorted) }
        if let entry = accelerators.first(where: { $0.name == sorted[0] }) { return .identified(entry) }
        return .unrecognized(sorted)
    }
}

private let mebibyte = 1 << 20
private let gibibyte = 1 << 30
private let tera = 1e12

/// NVIDIA GPU Feature Discovery's product label (nvidia-smi's product name, spaces → dashes).
private let gfdProduct = "nvidia.com/gpu.product"
/// GKE's accelerator label on GPU node pools.
private let gkeAccelerator = "cloud.google.com/gke-accelerator"
/// GKE's accelerator label on TPU node pools.
private let gkeTPUAccelerator = "cloud.google.com/gke-tpu-accelerator"
/// The AMD GPU operator's node labeller product label (spaces → underscores).
private let amdProductName = "amd.com/gpu.product-name"
/// Habana/Intel Gaudi product label. Unverified: the Gaudi device plugin may not label nodes
/// at all; with Gaudi, set `spec.accelerator` explicitly.
private let gaudiProduct = "habana.ai/gaudi.product"

/// GKE taints GPU node pools with `nvidia.com/gpu=present:NoSchedule` (GKE GPU docs); the
/// NVIDIA GPU operator does not taint by default but this is the conventional key elsewhere too.
private let nvidiaTaint = Accelerator.Taint(key: "nvidia.com/gpu", value: "present", effect: "NoSchedule")
/// The AMD GPU operator applies no default taint; clusters that taint use this key. Value
/// varies, so tolerate with `Exists`.
private let amdTaint = Accelerator.Taint(key: "amd.com/gpu", value: nil, effect: "NoSchedule")
/// GKE taints TPU node pools with `google.com/tpu=present:NoSchedule` (GKE TPU docs).
private let tpuTaint = Accelerator.Taint(key: "google.com/tpu", value: "present", effect: "NoSchedule")
/// No standard Gaudi taint is known; clusters that taint commonly use the resource name.
private let gaudiTaint = Accelerator.Taint(key: "habana.ai/gaudi", value: nil, effect: "NoSchedule")

extension AcceleratorCatalog {
    /// The built-in catalog.
    public static let builtIn = AcceleratorCatalog([
        Accelerator(
            name: "nvidia-a100-40gb", aliases: ["a100-40gb"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 40_960 * mebibyte,  // nvidia-smi shows 40960MiB on A100-SXM4-40GB (published outputs)
            memorySource: "nvidia-smi reports 40,960 MiB",
            memoryBandwidthBytesPerSecond: 1_555e9,  // NVIDIA A100 datasheet: 1,555 GB/s (40GB SXM)
            denseBF16FLOPS: 312 * tera,  // NVIDIA A100 datasheet: 312 TFLOPS BF16 dense (624 sparse)
            supportsFP8: false,  // Ampere has no FP8 tensor cores (vLLM runs FP8 weight-only via Marlin)
            devicesPerNode: 8,  // DGX A100 / HGX A100 8-GPU board
            nodeLabels: [
                .init(gfdProduct, "NVIDIA-A100-SXM4-40GB"), .init(gfdProduct, "NVIDIA-A100-PCIE-40GB"),
                .init(gkeAccelerator, "nvidia-tesla-a100"),  // GKE's name for the 40 GB A100 (a2-highgpu)
            ],
            taint: nvidiaTaint),
        Accelerator(
            name: "nvidia-a100-80gb", aliases: ["a100-80gb"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 81_920 * mebibyte,  // nvidia-smi shows 81920MiB on A100-SXM4-80GB (published outputs)
            memorySource: "nvidia-smi reports 81,920 MiB",
            memoryBandwidthBytesPerSecond: 2_039e9,  // NVIDIA A100 datasheet: 2,039 GB/s (80GB SXM)
            denseBF16FLOPS: 312 * tera,  // NVIDIA A100 datasheet: 312 TFLOPS BF16 dense
            supportsFP8: false,  // Ampere: no FP8 tensor cores
            devicesPerNode: 8,  // DGX A100 / HGX A100 8-GPU board
            nodeLabels: [
                .init(gfdProduct, "NVIDIA-A100-SXM4-80GB"), .init(gfdProduct, "NVIDIA-A100-80GB-PCIe"),
                .init(gkeAccelerator, "nvidia-a100-80gb"),  // GKE a2-ultragpu
            ],
            taint: nvidiaTaint),
        Accelerator(
            name: "nvidia-l4", aliases: ["l4"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 23_034 * mebibyte,  // nvidia-smi shows 23034MiB on L4 (published outputs)
            memorySource: "nvidia-smi reports 23,034 MiB",
            memoryBandwidthBytesPerSecond: 300e9,  // NVIDIA L4 datasheet: 300 GB/s
            denseBF16FLOPS: 121 * tera,  // NVIDIA L4 datasheet: 242 TFLOPS BF16 with sparsity → 121 dense
            supportsFP8: true,  // Ada Lovelace FP8 tensor cores
            devicesPerNode: 8,  // the largest common L4 host (GKE g2-standard-96); many hosts have 1–4
            nodeLabels: [.init(gfdProduct, "NVIDIA-L4"), .init(gkeAccelerator, "nvidia-l4")],
            taint: nvidiaTaint),
        Accelerator(
            name: "nvidia-l40s", aliases: ["l40s"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 46_068 * mebibyte,  // nvidia-smi shows 46068MiB on L40S (published outputs)
            memorySource: "nvidia-smi reports 46,068 MiB",
            memoryBandwidthBytesPerSecond: 864e9,  // NVIDIA L40S datasheet: 864 GB/s
            denseBF16FLOPS: 362.05 * tera,  // NVIDIA L40S datasheet: 362.05 TFLOPS BF16 dense (733 sparse)
            supportsFP8: true,  // Ada Lovelace FP8 tensor cores
            devicesPerNode: 8,  // typical PCIe server (e.g. AWS g6e.48xlarge); many hosts have 4
            nodeLabels: [.init(gfdProduct, "NVIDIA-L40S")],
            taint: nvidiaTaint),
        Accelerator(
            name: "nvidia-h100", aliases: ["h100", "h100-80gb", "nvidia-h100-80gb", "nvidia-h100-sxm"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 81_559 * mebibyte,  // nvidia-smi on H100 SXM: 81559MiB (per API.md)
            memorySource: "nvidia-smi reports 81,559 MiB (H100 SXM)",
            memoryBandwidthBytesPerSecond: 3_350e9,  // NVIDIA H100 datasheet: 3.35 TB/s (SXM)
            denseBF16FLOPS: 989.4 * tera,  // NVIDIA H100 datasheet: 1,979 TFLOPS BF16 sparse → 989 dense
            supportsFP8: true,  // Hopper FP8 tensor cores
            devicesPerNode: 8,  // HGX H100 8-GPU board
            nodeLabels: [
                .init(gfdProduct, "NVIDIA-H100-80GB-HBM3"),
                .init(gkeAccelerator, "nvidia-h100-80gb"),  // GKE a3-highgpu
                .init(gkeAccelerator, "nvidia-h100-mega-80gb"),  // GKE a3-megagpu
            ],
            taint: nvidiaTaint),
        Accelerator(
            name: "nvidia-h200", aliases: ["h200", "h200-141gb", "nvidia-h200-141gb"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 143_771 * mebibyte,  // nvidia-smi on H200 SXM: 143771MiB (measured, per API.md)
            memorySource: "nvidia-smi reports 143,771 MiB (measured)",
            memoryBandwidthBytesPerSecond: 4_800e9,  // NVIDIA H200 datasheet: 4.8 TB/s
            denseBF16FLOPS: 989.4 * tera,  // NVIDIA H200 datasheet: same Hopper compute as H100 SXM
            supportsFP8: true,  // Hopper FP8 tensor cores
            devicesPerNode: 8,  // HGX H200 8-GPU board
            nodeLabels: [
                .init(gfdProduct, "NVIDIA-H200"),  // nvidia-smi name "NVIDIA H200"
                .init(gkeAccelerator, "nvidia-h200-141gb"),  // GKE a3-ultragpu
            ],
            taint: nvidiaTaint,
            defaultGPUMemoryUtilization: 0.95),  // API.md: 0.95 on 141 GiB-class parts
        Accelerator(
            name: "nvidia-b200", aliases: ["b200", "nvidia-b200-180gb"],
            vendor: .nvidia, resourceName: "nvidia.com/gpu",
            memoryBytes: 183_359 * mebibyte,  // nvidia-smi on HGX B200: 183359MiB (published outputs, ≈179 GiB)
            memorySource: "nvidia-smi reports 183,359 MiB",
            memoryBandwidthBytesPerSecond: 8_000e9,  // NVIDIA HGX B200 datasheet: 8 TB/s per GPU
            denseBF16FLOPS: 2_250 * tera,  // NVIDIA HGX B200: 4.5 PFLOPS BF16 sparse per GPU → 2.25 dense
            supportsFP8: true,  // Blackwell FP8 (and FP4) tensor cores
            devicesPerNode: 8,  // HGX B200 8-GPU board
            nodeLabels: [.init(gfdProduct, "NVIDIA-B200"), .init(gkeAccelerator, "nvidia-b200")],
            taint: nvidiaTaint,
            defaultGPUMemoryUtilization: 0.95),  // larger than the 141 GiB class (API.md)
        Accelerator(
            name: "amd-mi300x", aliases: ["mi300x", "amd-instinct-mi300x"],
            vendor: .amd, resourceName: "amd.com/gpu",
            memoryBytes: 196_592 * mebibyte,  // PyTorch on ROCm reports total_memory=196592MB (from memory)
            memorySource: "ROCm reports 196,592 MiB (192 GB HBM3)",
            memoryBandwidthBytesPerSecond: 5_300e9,  // AMD MI300X datasheet: 5.3 TB/s
            denseBF16FLOPS: 1_307.4 * tera,  // AMD MI300X datasheet: 1,307.4 TFLOPS BF16 dense
            supportsFP8: true,  // CDNA 3 FP8 (E4M3 FNUZ)
            devicesPerNode: 8,  // MI300X platform: 8 OAM modules
            nodeLabels: [
                // AMD GPU operator node labeller; whether the value carries "_OAM" varies (unverified).
                .init(amdProductName, "AMD_Instinct_MI300X"), .init(amdProductName, "AMD_Instinct_MI300X_OAM"),
            ],
            taint: amdTaint,
            defaultGPUMemoryUtilization: 0.95),  // larger than the 141 GiB class (API.md)
        Accelerator(
            name: "amd-mi325x", aliases: ["mi325x", "amd-instinct-mi325x"],
            vendor: .amd, resourceName: "amd.com/gpu",
            memoryBytes: 256 * gibibyte,  // AMD datasheet 256 GB HBM3E; no driver reading at hand, taken as 256 GiB
            memorySource: "datasheet 256 GB HBM3E, taken as 256 GiB (no driver reading)",
            memoryBandwidthBytesPerSecond: 6_000e9,  // AMD MI325X datasheet: 6 TB/s
            denseBF16FLOPS: 1_307.4 * tera,  // AMD MI325X datasheet: same CDNA 3 compute as MI300X
            supportsFP8: true,  // CDNA 3 FP8
            devicesPerNode: 8,  // MI325X platform: 8 OAM modules
            nodeLabels: [
                .init(amdProductName, "AMD_Instinct_MI325X"), .init(amdProductName, "AMD_Instinct_MI325X_OAM"),
            ],
            taint: amdTaint,
            defaultGPUMemoryUtilization: 0.95),  // larger than the 141 GiB class (API.md)
        Accelerator(
            name: "google-tpu-v5e", aliases: ["tpu-v5e", "v5e", "tpu-v5-lite", "tpu-v5-lite-podslice"],
            vendor: .google, resourceName: "google.com/tpu",
            memoryBytes: 16 * gibibyte,  // Cloud TPU v5e docs: 16 GB HBM2 per chip, taken as 16 GiB
            memorySource: "Cloud TPU docs: 16 GB HBM per chip, taken as 16 GiB",
            memoryBandwidthBytesPerSecond: 819e9,  // Cloud TPU v5e docs: 819 GB/s per chip
            denseBF16FLOPS: 197 * tera,  // Cloud TPU v5e docs: 197 TFLOPS BF16 per chip
            supportsFP8: false,  // Cloud TPU v5e docs list BF16 and INT8 only
            devicesPerNode: 8,  // single-host slice ct5lp-hightpu-8t (2x4); multi-host slices use 4 per host
            nodeLabels: [.init(gkeTPUAccelerator, "tpu-v5-lite-podslice")],
            taint: tpuTaint),
        Accelerator(
            name: "google-tpu-v6e", aliases: ["tpu-v6e", "v6e", "trillium", "tpu-v6e-slice"],
            vendor: .google, resourceName: "google.com/tpu",
            memoryBytes: 32 * gibibyte,  // Cloud TPU v6e docs: 32 GB HBM per chip, taken as 32 GiB
            memorySource: "Cloud TPU docs: 32 GB HBM per chip, taken as 32 GiB",
            memoryBandwidthBytesPerSecond: 1_640e9,  // Cloud TPU v6e docs: 1,640 GB/s per chip
            denseBF16FLOPS: 918 * tera,  // Cloud TPU v6e docs: 918 TFLOPS BF16 per chip
            supportsFP8: false,  // Cloud TPU v6e docs list BF16 and INT8 only
            devicesPerNode: 8,  // single-host slice ct6e-standard-8t (2x4); ct6e-standard-4t has 4
            nodeLabels: [.init(gkeTPUAccelerator, "tpu-v6e-slice")],
            taint: tpuTaint),
        Accelerator(
            name: "intel-gaudi3", aliases: ["gaudi3", "gaudi-3", "habana-gaudi3", "hl-325l"],
            vendor: .intel, resourceName: "habana.ai/gaudi",
            memoryBytes: 128 * gibibyte,  // Intel Gaudi 3 datasheet 128 GB HBM2e; hl-smi reading not at hand, taken as 128 GiB
            memorySource: "datasheet 128 GB HBM2e, taken as 128 GiB (no driver reading)",
            memoryBandwidthBytesPerSecond: 3_700e9,  // Intel Gaudi 3 datasheet: 3.7 TB/s
            denseBF16FLOPS: 1_835 * tera,  // Intel Gaudi 3 datasheet: 1,835 TFLOPS BF16 (matrix engines)
            supportsFP8: true,  // Gaudi 3 FP8 matrix engines
            devicesPerNode: 8,  // Gaudi 3 baseboard: 8 OAM (HL-325L)
            nodeLabels: [.init(gaudiProduct, "HL-325L"), .init(gaudiProduct, "HL-338")],  // OAM, PCIe card model numbers
            taint: gaudiTaint),
    ])
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
