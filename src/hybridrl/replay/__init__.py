"""Device-resident replay and the data-mixing strategies that form each minibatch."""
from hybridrl.replay.buffer import ReplayBuffer
from hybridrl.replay.mixing import MIXERS, Mixer, build_mixer, make_mixer

__all__ = ["MIXERS", "Mixer", "ReplayBuffer", "build_mixer", "make_mixer"]
