export { FormService, type DeployedForm, type LoadedForm, type PreparedForm } from './form-service.js';
export { deployWithForms, type DeploymentWithForms } from './deploy-with-forms.js';
export { parseForm, isFormResource, FORM_LIMITS, type FormField, type ParsedForm } from './form-schema.js';
export { declaredFormLinks, type DeclaredFormLink } from './form-links.js';
export { validateSubmission, type FieldViolation } from './validate-submission.js';
