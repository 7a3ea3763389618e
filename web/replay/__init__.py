"""Make-up replay: the replay page and player, its files (with HTTP Range), watch heartbeats,
and the organisers' recording actions. Routes are registered by :mod:`web.replay.views`."""
