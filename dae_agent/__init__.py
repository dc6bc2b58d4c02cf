"""dae_agent: a language model writes DAE programs, the emulator verifies them, and verified programs
become demonstrations for harder tasks (an adaptive self-improving agent).
"""
