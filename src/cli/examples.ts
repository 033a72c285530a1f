// The Examples section of each command's --help, keyed by the command's full name. They are the README's
// commands (its quick start and the docs it links), so help and README teach the same lines. A test makes
// sure every command that runs something has at least one.

const ISSUER = 'https://my-bucket.s3.eu-west-1.amazonaws.com/cluster-1';
const PROVIDER_ARN = 'arn:aws:iam::111122223333:oidc-provider/my-bucket.s3.eu-west-1.amazonaws.com/cluster-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/kirsa-default-s3-echoer';

export const EXAMPLES: Record<string, readonly string[]> = {
  demo: [
    'kirsa demo',
    'kirsa demo --keep',
    'kirsa demo --kube',
    'kirsa demo --node   # as root, after eval "$(bash tools/realparts/build.sh --print-env)" and the same for tools/image/build.sh',
    'kirsa demo --node --keep   # then kubectl get pods with the KUBECONFIG it prints',
  ],
  'issuer init': [
    `kirsa issuer init --issuer-url ${ISSUER}`,
    `kirsa issuer init --from-cluster --issuer-url ${ISSUER} --kubeconfig ~/.kube/config`,
  ],
  'issuer jwks': ['kirsa issuer jwks --public-key sa.pub > keys.json'],
  'issuer rotate': [
    'kirsa issuer rotate --dir ./kirsa-issuer',
    'kirsa issuer rotate --dir ./kirsa-issuer --promote',
    'kirsa issuer rotate --dir ./kirsa-issuer --retire',
  ],
  'issuer status': [
    'kirsa issuer status --dir ./kirsa-issuer',
    'kirsa issuer status --dir ./kirsa-issuer -o json',
  ],
  'issuer publish': [
    'kirsa issuer publish --dir ./kirsa-issuer --bucket my-bucket --region eu-west-1',
    `kirsa issuer publish --from-cluster --issuer-url ${ISSUER} --bucket my-bucket --region eu-west-1`,
    'kirsa issuer publish --hosting cloudfront --dir ./kirsa-issuer --bucket my-bucket --region eu-west-1',
  ],
  'issuer distribution': ['kirsa issuer distribution --bucket my-bucket --region eu-west-1'],
  'issuer cronjob': [
    `kirsa issuer cronjob --bucket my-bucket --issuer-url ${ISSUER} --region eu-west-1 | kubectl apply -f -`,
  ],
  'issuer verify': [
    `kirsa issuer verify ${ISSUER}`,
    `kirsa issuer verify ${ISSUER} --token token.jwt -o json`,
  ],
  'issuer thumbprint': [`kirsa issuer thumbprint ${ISSUER}`],
  'issuer serve': ['kirsa issuer serve --dir ./kirsa-issuer --tls-cert tls.crt --tls-key tls.key'],
  'apiserver-config': [
    `kirsa apiserver-config --for kops --dir ./kirsa-issuer --issuer-url ${ISSUER}`,
    'kirsa apiserver-config --for kubeadm --dir ./kirsa-issuer --kubeconfig ~/.kube/config',
  ],
  'provider create': [
    `kirsa provider create --issuer-url ${ISSUER}`,
    `kirsa provider create --issuer-url ${ISSUER} -o terraform`,
  ],
  'provider delete': [`kirsa provider delete --issuer-url ${ISSUER}`],
  'role create': [
    `kirsa role create -n default --service-account s3-echoer --provider-arn ${PROVIDER_ARN} --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess`,
    `kirsa role create -n default --service-account s3-echoer --provider-arn ${PROVIDER_ARN} -o terraform --output-dir iam/`,
  ],
  'role delete': ['kirsa role delete -n default --service-account s3-echoer'],
  stack: [
    'kirsa stack -o terraform --dir ./kirsa-issuer --bucket my-bucket --region eu-west-1 --account-id 111122223333 --roles roles.yaml --output-dir iam/',
    'kirsa stack -o cloudformation --dir ./kirsa-issuer --bucket my-bucket --region eu-west-1 --account-id 111122223333 --roles roles.yaml --output-dir cfn/',
  ],
  manifests: [
    'kirsa manifests | kubectl apply -f -',
    'kirsa manifests --tls-mode self-managed',
    'kirsa manifests --webhook-mode opt-in --failure-policy Fail',
  ],
  webhook: [
    'kirsa webhook --port 8443 --tls-cert /etc/webhook/certs/tls.crt --tls-key /etc/webhook/certs/tls.key',
  ],
  mutate: [
    'kirsa mutate -f examples/s3-echoer/job.yaml --role-arn arn:aws:iam::111122223333:role/kirsa-default-s3-echoer',
    `kirsa mutate -f pod.yaml --role-arn ${ROLE_ARN} -o patch`,
  ],
  'doctor pod': [
    'kirsa doctor pod s3-echoer-abcde -n default',
    'kirsa doctor pod s3-echoer-abcde -n default -o json',
  ],
  'doctor serviceaccount': ['kirsa doctor serviceaccount s3-echoer -n default'],
  'migrate plan': [
    `kirsa migrate plan -A --provider-arn ${PROVIDER_ARN} --node-role-arn arn:aws:iam::111122223333:role/nodes`,
    `kirsa migrate plan -n shop --base-role-arn arn:aws:iam::111122223333:role/ --provider-arn ${PROVIDER_ARN} -o yaml > plan.yaml`,
  ],
  'migrate apply': ['kirsa migrate apply plan.yaml --dry-run', 'kirsa migrate apply plan.yaml'],
  'migrate cleanup': [
    'kirsa migrate cleanup plan.yaml',
    'kirsa migrate cleanup plan.yaml --remove-node-trust',
  ],
  explain: [
    `kirsa explain --role-arn ${ROLE_ARN} --token-file token.jwt`,
    `kirsa explain --policy-file trust.json --issuer-url ${ISSUER} -n default --service-account app -o json`,
  ],
  'trust-policy': [
    `kirsa trust-policy --provider-arn ${PROVIDER_ARN} -n default --service-account s3-echoer`,
  ],
  'sts serve': ['kirsa sts serve --config sts.yaml --port 4599'],
  completion: [
    'kirsa completion bash > /etc/bash_completion.d/kirsa',
    'kirsa completion zsh > ~/.zfunc/_kirsa   # with fpath+=(~/.zfunc) in ~/.zshrc',
    'kirsa completion fish > ~/.config/fish/completions/kirsa.fish',
  ],
};
