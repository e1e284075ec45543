"""Regenerate the tiny fake copies of public dataset layouts used by the adapter tests.

Run: python tests/assets/instruction_data/make_assets.py  (writes next to this file).
Each audio file is 0.1 s of a quiet 8 kHz tone; only the folder layouts and metadata matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent


def wav(path: Path, freq: float = 440.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(800) / 8000
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000, subtype="PCM_16")


def text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def main() -> None:
    d = HERE / "esc50"
    text(d / "meta/esc50.csv", "filename,fold,target,category,esc10,src_file,take\n"
         "1-100032-A-0.wav,1,0,dog,True,100032,A\n1-100032-B-0.wav,5,0,dog,True,100032,B\n"
         "4-110-A-19.wav,4,19,thunderstorm,False,110,A\n")
    for f in ("1-100032-A-0", "1-100032-B-0", "4-110-A-19"):
        wav(d / "audio" / f"{f}.wav")

    d = HERE / "urbansound8k"
    text(d / "metadata/UrbanSound8K.csv", "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
         "100032-3-0-0.wav,100032,0.0,0.3,1,5,3,dog_bark\n100263-2-0-117.wav,100263,58.5,62.5,1,10,2,children_playing\n")
    wav(d / "audio/fold5/100032-3-0-0.wav")
    wav(d / "audio/fold10/100263-2-0-117.wav")

    d = HERE / "audiocaps"
    text(d / "train.csv", "audiocap_id,youtube_id,start_time,caption\n"
         "91139,r1nicOVtvkQ,130,A woman talks nearby as water pours\n"
         "91140,r1nicOVtvkQ,130,Water pours while a woman speaks\n58146,UDGBjjwyaqE,20,A dog barks\n")
    text(d / "test.csv", "audiocap_id,youtube_id,start_time,caption\n103549,7fmOlUlwoNg,20,Wind blows hard\n")
    wav(d / "audio/train/r1nicOVtvkQ.wav")
    wav(d / "audio/train/YUDGBjjwyaqE.wav")  # a leading Y is accepted
    wav(d / "audio/test/7fmOlUlwoNg.wav")

    d = HERE / "clotho"
    text(d / "clotho_captions_development.csv", "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
         "rain.wav,Rain falls on a roof.,Heavy rain.,Rain pours down.,Raindrops on metal.,It rains.\n")
    text(d / "clotho_captions_evaluation.csv", "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
         "birds.wav,Birds sing at dawn.,Birds chirp.,Many birds.,Birdsong outside.,Birds call.\n")
    wav(d / "development/rain.wav")
    wav(d / "evaluation/birds.wav")

    d = HERE / "clotho_aqa"
    text(d / "clotho_aqa_train.csv", "file_name,QuestionText,answer,confidence\n"
         "rain.wav,Is it raining?,yes,yes\nrain.wav,Is it raining?,yes,maybe\nrain.wav,Is it raining?,no,yes\n"
         "rain.wav,What is falling?,rain,yes\nrain.wav,What is falling?,rain,yes\nrain.wav,What is falling?,water,no\n")
    wav(d / "audio_files/rain.wav")

    d = HERE / "fsd50k"
    text(d / "FSD50K.ground_truth/dev.csv", "fname,labels,mids,split\n"
         "64760,\"Electric_guitar,Guitar,Music\",\"/m/02sgy,/m/0342h,/m/04rlf\",train\n"
         "16399,\"Dog,Animal\",\"/m/0bt9lr,/m/0jbk\",val\n")
    text(d / "FSD50K.ground_truth/eval.csv", "fname,labels,mids\n37199,\"Rain,Water\",\"/m/06mb1,/m/0838f\"\n")
    wav(d / "FSD50K.dev_audio/64760.wav")
    wav(d / "FSD50K.dev_audio/16399.wav")
    wav(d / "FSD50K.eval_audio/37199.wav")

    d = HERE / "vggsound"
    text(d / "vggsound.csv", "---g-f_I2yQ,1,people marching,test\n--0PQM4-hqg,30,waterfall burbling,train\n"
         "missing_vid,0,dog barking,train\n")
    wav(d / "audio/---g-f_I2yQ_000001.wav")
    wav(d / "audio/--0PQM4-hqg_000030.wav")

    d = HERE / "speech_commands"
    for word, spk, n in (("yes", "0a7c2a8d", 0), ("yes", "0b09edd3", 0), ("no", "0a7c2a8d", 1)):
        wav(d / word / f"{spk}_nohash_{n}.wav")
    wav(d / "_background_noise_/white_noise.wav")
    text(d / "validation_list.txt", "yes/0b09edd3_nohash_0.wav\n")
    text(d / "testing_list.txt", "")

    d = HERE / "folder"
    wav(d / "dog/a.wav")
    wav(d / "cat/b.wav")
    text(HERE / "table" / "clips.csv", "path,labels,caption,transcript,split\n"
         "audio/x.wav,bell;chime,A bell rings.,,train\naudio/y.wav,speech,,hello there,test\n")
    wav(HERE / "table/audio/x.wav")
    wav(HERE / "table/audio/y.wav")


if __name__ == "__main__":
    main()
