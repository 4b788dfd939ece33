"""Defaults every camjax config starts from (flax-examples key names).

Not run on its own: `camjax.config.load` merges every config file onto it, so a
file sets only what it changes and every key is read as `config.key`.
"""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # data
    # A TFDS name prepared as array_record; "wsol:METADATA_DIR" (wsolevaluation's
    # layout: METADATA_DIR/<split>/image_ids.txt, ..., images under `image_root`); or
    # "folder:DIR" (DIR/<split>/<class>/*.jpg, torchvision's ImageFolder). docs/datasets.md
    c.dataset = "camjax_shapes"
    c.data_dir = ""                   # TFDS: "" -> $CAMJAX_DATA_DIR or WORKDIR/tfds
    c.image_root = ""                 # wsol: the folder image ids are relative to
    c.mask_root = ""                  # wsol mask splits: mask paths' folder ("" = image_root)
    c.max_image_pixels = 89_478_485   # larger image files are refused (Pillow's bomb limit)
    # a training image that does not decode: False stops training (exit 1, naming the file
    # and the step); True trains on the next image instead and counts it in metrics.jsonl
    c.skip_bad_images = False
    c.train_split = "train"
    c.eval_split = "test"
    c.image_size = 112
    c.augment = "flip"                # none | flip | random_resized_crop | resize_crop
    # training from JPEG files (wsol:, folder:): decode at 1/2..1/8 scale in the DCT when
    # the whole image is resized smaller anyway (augment none, flip, resize_crop)
    c.jpeg_draft = True
    c.max_boxes = 8
    # Boxes joined by file name for splits whose records have none (imagenet2012): an
    # ILSVRC validation XML folder, LOC_val_solution.csv, or a wsolevaluation metadata
    # folder; XML and CSV need the synset list (LOC_synset_mapping.txt) in `synsets`.
    c.eval_annotations = ""
    c.synsets = ""
    c.data_threads = 2
    c.data_workers = 0                # > 0: decode/augment in grain worker processes
    # model
    c.model = "tiny_gap"
    c.pooling = "gap"
    c.model_kwargs = ml_collections.ConfigDict()
    c.pretrained = ""                 # torchvision state dict (.safetensors / .pth)
    c.compute_dtype = "float32"       # or bfloat16 on accelerators
    # WSOL method (docs/wsol.md; clovaai/wsolevaluation's names and defaults):
    # cam | has | cutmix (any network) | adl | acol | spg (tiny_gap, vgg16_gap,
    # resnet50_gap, inception_v3_gap) | fewshot (trained on val_split's boxes or masks)
    c.wsol_method = "cam"
    c.has_grid_size = 4               # HaS (Singh & Lee, ICCV 2017): patch side, pixels (0: off)
    c.has_drop_rate = 0.5             # HaS: probability a patch is hidden
    c.acol_threshold = 0.7            # ACoL (Zhang et al., CVPR 2018): erasing threshold
    # SPG (Zhang et al., ECCV 2018): (high, low) seed thresholds of B2, B1 and C
    c.spg_thresholds = ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1))
    c.adl_drop_rate = 0.75            # ADL (Choe & Shim, CVPR 2019): drop-mask probability
    c.adl_threshold = 0.9             # ADL: gamma, drop above this share of the max
    c.cutmix_beta = 1.0               # CutMix (Yun et al., ICCV 2019): Beta(beta, beta)
    c.cutmix_prob = 1.0               # CutMix: probability a batch is mixed
    c.fewshot_cls_weight = 1.0        # few-shot baseline: cross-entropy weight (0: masks only)
    # optimisation: the released solver is SGD momentum 0.9, wd 5e-4
    c.batch_size = 64                 # global, divisible by the device count
    c.num_train_steps = 1000
    c.learning_rate = 0.01
    c.lr_schedule = "cosine"          # step | cosine | constant
    c.lr_step_size = 40_000
    c.lr_gamma = 0.1
    c.warmup_steps = 0
    c.momentum = 0.9
    c.weight_decay = 5e-4
    c.new_layer_lr_mult = 1.0         # > 1 when fine-tuning a pretrained backbone
    # loop
    c.seed = 0
    c.log_every_steps = 50
    c.checkpoint_every_steps = 500
    c.keep_checkpoints = 3
    c.eval_every_steps = 0            # 0: evaluate at the end only
    c.eval_during_training_images = 1000
    c.distributed = False             # jax.distributed.initialize() (TPU pods, SLURM)
    c.stop_check_every_steps = 10     # multi-process: steps between SIGTERM agreements
    c.eval_at_end = True              # evaluate config.eval_split when training ends
    # evaluation
    c.eval_batch_size = 100
    c.top_k = 0                       # classes per image; 0: 5, at most the dataset's classes
    c.cam_threshold = 0.2             # the paper's 20% of the map's max ("paper_rule")
    # The WSOL protocol's operating point: the CAM threshold with the best MaxBoxAcc on this
    # train-fullsup split ("" = none), applied once to eval_split ("val_threshold").
    c.val_split = ""
    c.cam_curve_interval = 0.01       # threshold grid of MaxBoxAcc / PxAP (wsolevaluation: .001)
    # maps, boxes and masks are scored at eval_map_size x eval_map_size (0 = image_size);
    # wsolevaluation scores at 224 whatever the input size
    c.eval_map_size = 0
    # how camjax localize prepares a user's image for this run's model: "resize" (to
    # image_size, as the eval split) or "imagenet" (torchvision's resize 256, centre crop)
    c.eval_transform = "resize"
    c.upsample = "bilinear"
    c.normalize = "minmax"
    # the map: "cam" (the classifier weights) or any camjax.methods name (grad_cam,
    # grad_cam_plus_plus, score_cam, layer_cam, saliency, smooth_grad, integrated_gradients);
    # several, comma-separated ("cam,grad_cam"), are scored on the same images in one run
    c.cam_method = "cam"
    # what the final evaluation scores, comma-separated: "wsol" (classification, the paper
    # rule, MaxBoxAcc, PxAP: always on), "faithfulness", "road", "pointing", "complexity",
    # "sanity" (docs/evaluation.md; all but wsol cost extra forward passes or solves)
    c.metrics = "wsol"
    # the layer a feature method (not cam) looks at, a module path as torchvision names it
    # ("layer3", "features.6"); "" = the network's features. docs/methods.md
    c.cam_layer = ""
    # average drop / increase in confidence and deletion / insertion AUC of the top-1 map
    # (2 x (steps + 1) forward passes an image); True is the same as adding it to metrics
    c.faithfulness = False
    c.faithfulness_steps = 100
    c.faithfulness_batch_size = 16
    # ROAD (pytorch-grad-cam's): map percentiles, imputation noise, variants per forward call
    c.road_percentiles = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    c.road_noise = 0.01
    c.road_batch_size = 6             # 18 variants at 9 percentiles: 3 calls of N x 6 images
    c.pointing_tolerance = 15.0       # pixels of the network input (the paper's 15)
    # sanity checks: the first images of the split; a method fails when its maps keep this
    # mean rank correlation with the trained network's once every layer is randomised
    c.sanity_images = 8
    c.sanity_threshold = 0.5
    return c
