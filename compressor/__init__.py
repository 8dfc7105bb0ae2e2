"""Deep Compression pipeline (Han, Mao, Dally, ICLR 2016).

Pruning, trained quantization (k-means weight sharing with centroid fine-tuning),
relative-index sparse encoding with filler zeros, Huffman coding, and a versioned
compressed-model file that decodes back exactly.

This package never imports ``eie_sim``: the simulator reads the compressor's files,
nothing points the other way.
"""

__version__ = "0.1.0"
