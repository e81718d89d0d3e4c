// Every generated STF document, in file-name order. scripts/generate-stf-tests.ts writes them to
// p4/tests/; test/scripts/generate-stf-tests.test.ts checks the committed files are up to date.
import { claimStf } from './claim.ts';
import { malformedStf } from './malformed.ts';
import { metricsAndAdviceStf } from './metrics-and-advice.ts';
import { requestsStf } from './requests.ts';
import { renderStfDocument, type StfDocument } from './stf-document.ts';

export const STF_DOCUMENTS: readonly StfDocument[] = [
  claimStf,
  malformedStf,
  metricsAndAdviceStf,
  requestsStf,
];

/** File name (under p4/tests/) → rendered text. */
export function renderStfFiles(): Map<string, string> {
  return new Map(STF_DOCUMENTS.map((document) => [document.fileName, renderStfDocument(document)]));
}
