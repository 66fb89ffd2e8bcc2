from knowledge.models import attention_macs

# Swin-T on a 512 x 512 image: stage i has 128 / 2^i tokens per side and 96 * 2^i channels
M = 7
print("stage  tokens     C  heads | GMac: MSA   W-MSA  ratio | attention matrix: MSA   W-MSA")
for i, heads in enumerate((3, 6, 12, 24)):
    side, c = 128 // 2**i, 96 * 2**i
    msa = attention_macs(side, side, c)
    wmsa = attention_macs(side, side, c, window_size=M)
    n_windows = (-(-side // M)) ** 2  # windows after padding to a multiple of M
    msa_bytes = heads * (side * side) ** 2 * 4  # float32 logits, one image, one layer
    wmsa_bytes = heads * n_windows * (M * M) ** 2 * 4
    print(
        f"{i:>5}  {f'{side}x{side}':>7}  {c:>3}  {heads:>5} | {msa / 1e9:>9.2f} {wmsa / 1e9:>7.2f}"
        f" {msa / wmsa:>6.1f} | {msa_bytes / 2**20:>19.0f} MiB {wmsa_bytes / 2**20:>5.1f} MiB"
    )
