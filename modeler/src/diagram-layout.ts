/**
 * A process deployed without diagram interchange (written by hand, generated, or exported
 * by a tool that keeps only the semantics) has nothing for bpmn-js to draw: the instance
 * view showed an empty canvas and no marker could be placed. Such a document is laid out
 * here, in the browser, for display; the stored version is left as it was deployed.
 */
const HAS_SHAPES = /<(?:[\w-]+:)?BPMNShape\b/;

/** The document as given when it has shapes; otherwise laid out by bpmn-auto-layout, and whether it was. */
export async function withLayout(xml: string): Promise<{ xml: string; laidOut: boolean }> {
  if (HAS_SHAPES.test(xml)) return { xml, laidOut: false };
  // Loaded on first need: most diagrams come with their layout.
  const { layoutProcess } = await import('bpmn-auto-layout');
  return { xml: await layoutProcess(xml), laidOut: true };
}
