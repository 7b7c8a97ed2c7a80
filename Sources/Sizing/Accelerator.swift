/// One kind of accelerator device, as the sizing rules and pod templates need to know it.
///
/// Every figure that comes from outside (memory, bandwidth, throughput, labels) is annotated in
/// ``AcceleratorCatalog`` with where it comes from; ``memorySource`` carries that note into
/// reports.
public struct Accelerator: Sendable, Hashable {
    /// Who makes the device; decides the device plugin and its conventions.
    public enum Vendor: String, Sendable, Hashable {
        case nvidia, amd, google, intel
    }

    /// A node label `key: value` that identifies nodes carrying this accelerator.
    public struct NodeLabel: Sendable, Hashable {
        /// The label key, e.g. `nvidia.com/gpu.product`.
        public var key: String
        /// The value that identifies this accelerator, e.g. `NVIDIA-H200`.
        public var value: String

        /// A label `key: value`.
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// A node taint pods need to tolerate to land on this accelerator's nodes.
    public struct Taint: Sendable, Hashable {
        /// The taint key, e.g. `nvidia.com/gpu`.
        public var key: String
        /// `nil` when the value varies by cluster; tolerate with `operator: Exists`.
        public var value: String?
        /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
        public var effect: String

        /// A taint `key[=value]:effect`.
        public init(key: String, value: String?, effect: String) {
            self.key = key
            self.value = value
            self.effect = effect
        }
    }

    /// Catalog key, e.g. `nvidia-h200`.
    public var name: String
    /// Other names that resolve to this entry (lower-case), e.g. `h200`.
    public var aliases: [String]
    /// The maker, which decides the device plugin's conventions.
    public var vendor: Vendor
    /// The extended resource the device plugin advertises, e.g. `nvidia.com/gpu`.
    public var resourceName: String
    /// Device memory as the driver reports it (not the marketing figure), in bytes.
    public var memoryBytes: Int
    /// Where ``memoryBytes`` comes from, e.g. "nvidia-smi reports 143,771 MiB (measured)".
    public var memorySource: String
    /// Peak memory bandwidth from the vendor datasheet, bytes per second.
    public var memoryBandwidthBytesPerSecond: Double
    /// Dense (no sparsity) bfloat16 throughput from the vendor datasheet, FLOP per second.
    public var denseBF16FLOPS: Double
    /// Whether the hardware computes in FP8 natively.
    public var supportsFP8: Bool
    /// Devices on a typical node of this kind; the most one replica may use before multi-node.
    public var devicesPerNode: Int
    /// Labels that identify nodes with this accelerator; a node matching any one of them has it.
    public var nodeLabels: [NodeLabel]
    /// The taint such nodes usually carry, if any.
    public var taint: Taint?
    /// The `--gpu-memory-utilization` Tandem uses when the user gives none.
    public var defaultGPUMemoryUtilization: Double

    /// An entry; see each property for what it means and ``AcceleratorCatalog`` for sources.
    public init(
        name: String, aliases: [String] = [], vendor: Vendor, resourceName: String,
        memoryBytes: Int, memorySource: String, memoryBandwidthBytesPerSecond: Double,
        denseBF16FLOPS: Double, supportsFP8: Bool, devicesPerNode: Int,
        nodeLabels: [NodeLabel] = [], taint: Taint? = nil, defaultGPUMemoryUtilization: Double = 0.90
    ) {
        self.name = name
        self.aliases = aliases
        self.vendor = vendor
        self.resourceName = resourceName
        self.memoryBytes = memoryBytes
        self.memorySource = memorySource
        self.memoryBandwidthBytesPerSecond = memoryBandwidthBytesPerSecond
        self.denseBF16FLOPS = denseBF16FLOPS
        self.supportsFP8 = supportsFP8
        self.devicesPerNode = devicesPerNode
        self.nodeLabels = nodeLabels
        self.taint = taint
        self.defaultGPUMemoryUtilization = defaultGPUMemoryUtilization
    }
}
