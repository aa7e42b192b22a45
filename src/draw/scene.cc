#include "draw/scene.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "convkit/error.h"
#include "convkit/files.h"
#include "draw/renderers.h"

namespace convkit::draw {

std::string hex(Color c) {
  auto byte = [](double v) { return static_cast<int>(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5); };
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", byte(c.r), byte(c.g), byte(c.b));
  return text;
}

Scene::Scene(double width, double height, std::string title) : width_(width), height_(height), title_(std::move(title)) {
  if (!(width >= 1 && height >= 1 && width <= 20000 && height <= 20000))
    fail("draw: a picture of ", width, "x", height, " pixels; expected 1..20000 on each side");
}

void Scene::add(Mark mark, std::string role, int frame) { elements_.push_back({std::move(mark), frame, std::move(role)}); }

void Scene::set_animation(int frames, double seconds) {
  if (frames < 0 || !(seconds > 0)) fail("draw: an animation of ", frames, " frames of ", seconds, " s; expected >= 0 and > 0");
  frames_ = frames;
  frame_seconds_ = seconds;
}

Format format_of(const std::string& path, const std::string& argument) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".png") return Format::png;
  if (extension == ".svg") return Format::svg;
  if (extension == ".pdf") return Format::pdf;
  fail(argument, "=", escaped(path, 200), ": the extension '", escaped(extension, 20),
       "' names no picture format; expected .png, .svg or .pdf");
}

void check_output(const std::string& path, const std::string& argument) {
  (void)format_of(path, argument);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error))
    fail(argument, "=", escaped(path, 200), ": cannot write: the directory ", escaped(dir.string(), 200),
         " does not exist");
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    fail(argument, "=", escaped(path, 200), ": cannot write: the directory ", escaped(dir.string(), 200),
         " is not writable");
}

void prepare_output_dir(const std::string& dir, const std::string& argument) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir))
    fail(argument, "=", escaped(dir, 200), ": cannot create the directory",
         error ? ": " + error.message() : std::string(": a file of that name exists"));
  if (access(dir.c_str(), W_OK | X_OK) != 0) fail(argument, "=", escaped(dir, 200), ": the directory is not writable");
}

std::vector<uint8_t> render(const Scene& scene, Format format) {
  return format == Format::svg ? render_svg(scene) : render_cairo(scene, format);
}

void write(const Scene& scene, const std::string& path) {
  files::write_atomically(path, render(scene, format_of(path, "picture path")));
}

}  // namespace convkit::draw
