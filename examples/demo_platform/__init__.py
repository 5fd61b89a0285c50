"""A small photo and video site that integrates takedown the way a real platform would."""
