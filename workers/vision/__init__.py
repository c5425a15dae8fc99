"""The vision stage: detect garments, name their colours, embed and retrieve neighbours, assemble the evidence pack."""
