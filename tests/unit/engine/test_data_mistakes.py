"""Data mistakes (empty splits, missing files, image/label size
mismatch) are named with the data root and the split."""
import os.path as osp

import pytest

pytestmark = pytest.mark.usefixtures('mmseg_scope')


class _Dataset:

    def __init__(self, data_list, data_root='data/voc'):
        self.data_list = data_list
        self.data_root = data_root
        self.ann_file = 'ImageSets/Segmentation/train.txt'

    def __len__(self):
        return len(self.data_list)


def test_empty_dataset_names_root_and_split():
    from mmswtat.engine.data_checks import check_dataset
    with pytest.raises(
            ValueError,
            match="train dataset .*data_root='data/"
            "voc'.*ann_file=.*train.txt.*is empty"):
        check_dataset(_Dataset([]), 'train')


def test_runner_names_an_empty_split(voc, tmp_path):
    """mmengine fails to build it ("need at least one array ...")."""
    from mmswtat.engine import DistillRunner
    split = tmp_path / 'empty.txt'
    split.write_text('')
    loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='PascalVOCDataset',
            data_root=voc,
            ann_file=str(split),
            pipeline=[],
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass')))
    with pytest.raises(
            ValueError,
            match='val/test dataset .*PascalVOC'
            f'Dataset: data_root={voc!r}.*empty.txt.*is empty'):
        DistillRunner.build_dataloader(loader)


def test_runner_names_a_missing_split_file_and_missing_labels(voc, tmp_path):
    from mmswtat.engine import DistillRunner
    loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='PascalVOCDataset',
            data_root=voc,
            ann_file='ImageSets/Segmentation/nope.txt',
            pipeline=[],
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass')))
    with pytest.raises(
            FileNotFoundError,
            match='train dataset .*nope.txt'
            '.*cannot be read.*Check train_dataloader.dataset'):
        DistillRunner.build_dataloader(loader)
    from mmswtat.engine.data_checks import check_dataset
    items = [
        dict(
            img_path=osp.join(voc, 'JPEGImages', 'x.jpg'),
            seg_map_path=str(tmp_path / 'x.png'))
    ]
    with pytest.raises(
            FileNotFoundError,
            match="lists image '.*x.jpg', "
            'which does not exist'):
        check_dataset(_Dataset(items), 'train')


def test_image_label_size_mismatch_names_the_first_pair(tmp_path):
    from PIL import Image

    from mmswtat.engine.data_checks import check_dataset
    items = []
    for i, (a, b) in enumerate([(16, 16), (16, 12), (8, 9)]):
        img, seg = tmp_path / f'{i}.jpg', tmp_path / f'{i}.png'
        Image.new('RGB', (a, a)).save(img)
        Image.new('L', (b, b)).save(seg)
        items.append(dict(img_path=str(img), seg_map_path=str(seg)))
    with pytest.raises(
            ValueError, match=r"1\.jpg' \(16x16\) with .*1\.png' "
            r'\(12x12'):
        check_dataset(_Dataset(items), 'train')
    check_dataset(_Dataset(items[:1]), 'train')
    same = [dict(items[0], seg_map_path=items[0]['img_path'])]
    with pytest.raises(ValueError, match='as its own label map'):
        check_dataset(_Dataset(same), 'train')
    (tmp_path / '0.png').write_text('<html>not found</html>')
    with pytest.raises(
            ValueError, match=r"lists '.*0\.png', which is not "
            'an image'):
        check_dataset(_Dataset(items[:1]), 'train')
