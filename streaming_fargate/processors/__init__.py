"""The stages of one call's pipeline, top (caller) to bottom (speaker):

    vad.VoiceActivity            energy VAD on the decoded caller audio -> started/stopped speaking
    recognition.SpeechRecognition caller audio into the STT session, its hypotheses out
    bargein.BargeIn              caller speech over the agent above interruption_threshold -> interrupt
    endpointing.Endpointing      end of turn from stable partials + silence (never waits for finals)
    silence.SilenceWatch         re-prompt after silence, hang up after repeated silence or max duration
    turns.Turns                  the model turn: prompt, context window, tools, end_call
    sentence_chunker.SentenceChunker  model text -> speakable chunks (sentence or clause)
    synthesis.SpeechSynthesis    chunks -> μ-law audio (queued; greeting audio from the cache)
    playout.Playout              media + marks out, what was heard, clear on barge-in

``first_message.GreetingCache`` keeps each agent's greeting synthesized ahead of the call.
"""
