"""Audio pieces shared by the faces: the G.711 codec (``centralino.audio.g711``).

It lives in the domain package because both the simulated caller
(``centralino.simcaller``) and the voice agent (``agent.audio``) need it, and
``centralino`` may not import ``agent``.
"""
