"""Write the student of a distillation checkpoint as a plain model checkpoint.

    python tools/export_student.py CKPT OUT

The result loads in the codebase's own tools (e.g. mmseg's ``tools/test.py``)
with the stock student config: keys have no ``student.`` prefix and the
teacher, connectors, embeddings, optimizer and message hub are left out.
"""
import argparse
import os
import os.path as osp

import torch

import mmswtat
from mmswtat.utils.checkpoint import (extract_state_dict, load_checkpoint_file,
                                     student_weights)


def export_student(src: str, dst: str) -> int:
    """Export; returns the number of tensors written.

    Raises:
        ValueError: ``src`` holds no ``student.*`` weights.
    """
    checkpoint = load_checkpoint_file(src, role='distillation')
    student = student_weights(extract_state_dict(checkpoint), src,
                              'a plain model checkpoint needs no export')
    meta = dict(checkpoint.get('meta') or {})
    out_meta = {k: meta[k] for k in ('dataset_meta', 'iter', 'epoch',
                                     'mmengine_version') if k in meta}
    out_meta.update(exported_from=osp.abspath(src),
                    mmswtat_version=mmswtat.__version__)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=student, meta=out_meta), dst)
    return len(student)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='distillation checkpoint')
    parser.add_argument('out', help='output .pth file')
    args = parser.parse_args()
    n = export_student(args.checkpoint, args.out)
    print(f'wrote {n} student tensors to {args.out}')


if __name__ == '__main__':
    main()
