// CloudFront Function (viewer request, cloudfront-js-2.0) of the console's default behavior: the
// console routes by path (/projects/...), so a path without a file extension is answered with
// /index.html. Paths of the API never reach it: they have their own behaviors.
function handler(event) {
  var request = event.request;
  var last = request.uri.split("/").pop();
  if (last.indexOf(".") === -1) {
    request.uri = "/index.html";
  }
  return request;
}
