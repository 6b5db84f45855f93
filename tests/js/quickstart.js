// The steps of Microsoft's Custom Vision JavaScript quickstart (image classification), with Azure's npm SDKs,
// configured the quickstart's way: keys and endpoints from VISION_* environment variables, images under
// Images/Hemlock, Images/Japanese_Cherry and Images/Test (the working directory is set by the test).
// Prints one JSON line with what it saw, for tests/test_api_js_sdk.py to check.
const util = require("util");
const fs = require("fs");
const TrainingApi = require("@azure/cognitiveservices-customvision-training");
const PredictionApi = require("@azure/cognitiveservices-customvision-prediction");
const msRest = require("@azure/ms-rest-js");

const env = process.env;
const sleep = util.promisify(setTimeout);
const trainer = new TrainingApi.TrainingAPIClient(
  new msRest.ApiKeyCredentials({ inHeader: { "Training-key": env.VISION_TRAINING_KEY } }),
  env.VISION_TRAINING_ENDPOINT,
);
const predictor = new PredictionApi.PredictionAPIClient(
  new msRest.ApiKeyCredentials({ inHeader: { "Prediction-key": env.VISION_PREDICTION_KEY } }),
  env.VISION_PREDICTION_ENDPOINT,
);

async function upload(projectId, folder, tagId) {
  return Promise.all(
    fs.readdirSync(folder).map((name) =>
      trainer.createImagesFromData(projectId, fs.readFileSync(`${folder}/${name}`), { tagIds: [tagId] }),
    ),
  );
}

(async () => {
  const project = await trainer.createProject("Sample Project");
  const hemlock = await trainer.createTag(project.id, "Hemlock");
  const cherry = await trainer.createTag(project.id, "Japanese Cherry");
  await upload(project.id, "Images/Hemlock", hemlock.id);
  await upload(project.id, "Images/Japanese_Cherry", cherry.id);

  let iteration = await trainer.trainProject(project.id);
  const firstStatus = iteration.status;
  while (iteration.status == "Training") {  // the quickstart's loop
    await sleep(1000);
    iteration = await trainer.getIteration(project.id, iteration.id);
  }
  await trainer.publishIteration(project.id, iteration.id, "classifyModel", env.VISION_PREDICTION_RESOURCE_ID);

  const results = await predictor.classifyImage(project.id, "classifyModel", fs.readFileSync("Images/Test/test_image.jpg"));
  const predictions = results.predictions.map((p) => ({ tagName: p.tagName, probability: p.probability }));
  console.log(JSON.stringify({ firstStatus, finalStatus: iteration.status, predictions }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
